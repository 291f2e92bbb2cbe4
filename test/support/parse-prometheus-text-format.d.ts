/** Types for parse-prometheus-text-format (the package ships none). */
declare module 'parse-prometheus-text-format' {
  /** One metric family as parsed from Prometheus text. */
  interface MetricFamily {
    name: string;
    help: string;
    type: string;
    metrics: { labels?: Record<string, string>; value?: string; count?: string; sum?: string; buckets?: Record<string, string> }[];
  }
  /** Parses the Prometheus text exposition format; throws on text that is not. */
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
