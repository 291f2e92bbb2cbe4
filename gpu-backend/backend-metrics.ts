import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one backend, served at `GET /metrics` in the text exposition format. */
export class BackendMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'proofgate_backend_requests_total',
    help: 'Run requests by model (sha256) and HTTP status',
    labelNames: ['model', 'status'] as const,
    registers: [this.registry],
  });
  private readonly seconds = new Histogram({
    name: 'proofgate_backend_request_seconds',
    help: 'Time of served runs by stage: queue (waiting for the session), run (onnxruntime) and total (request in, answer out)',
    labelNames: ['model', 'stage'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'proofgate_backend_batch_size',
    help: 'Calls stacked into one onnxruntime run',
    labelNames: ['model'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });

  constructor(opts: { executionProvider: string; queueDepth: () => number; inFlight: () => number; draining: () => boolean }) {
    new Gauge({
      name: 'proofgate_backend_queue_depth',
      help: 'Calls waiting for their turn',
      registers: [this.registry],
      collect() {
        this.set(opts.queueDepth());
      },
    });
    new Gauge({
      name: 'proofgate_backend_in_flight',
      help: 'Calls waiting or running',
      registers: [this.registry],
      collect() {
        this.set(opts.inFlight());
      },
    });
    new Gauge({
      name: 'proofgate_backend_draining',
      help: '1 while the backend drains (takes no new work)',
      registers: [this.registry],
      collect() {
        this.set(opts.draining() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'proofgate_backend_execution_provider_info',
      help: 'The onnxruntime execution provider this backend runs models on',
      labelNames: ['provider'] as const,
      registers: [this.registry],
    }).set({ provider: opts.executionProvider }, 1);
  }

  /** Counts one answered run request. */
  request(model: string, status: number): void {
    this.requests.inc({ model, status: String(status) });
  }

  /** Records a served call's stage times (milliseconds). */
  served(model: string, t: { queueMs: number; runMs: number; totalMs: number }): void {
    this.seconds.observe({ model, stage: 'queue' }, t.queueMs / 1000);
    this.seconds.observe({ model, stage: 'run' }, t.runMs / 1000);
    this.seconds.observe({ model, stage: 'total' }, t.totalMs / 1000);
  }

  /** Records the size of one onnxruntime run. */
  batch(model: string, size: number): void {
    this.batchSize.observe({ model }, size);
  }
}
