import { getModelVersion, type ModelVersion } from './model-store';

/** How long an isolate trusts its idea of a name's latest version (or policy binding) before reading D1 again. */
export const MUTABLE_TTL_MS = 5_000;

/**
 * Model versions cached in the isolate. A version never changes once published, so `name@version`
 * is kept for good (up to `capacity` entries); which version is the latest changes on publish, so
 * that answer is kept for MUTABLE_TTL_MS, and dropped at once in the isolate that publishes.
 */
export class ModelVersionCache {
  private readonly versions = new Map<string, ModelVersion>();
  private readonly latest = new Map<string, { model: ModelVersion; at: number }>();

  constructor(private readonly capacity = 1024) {}

  /** The model version (the latest when `version` is undefined), from the cache or D1. */
  async get(db: D1Database, name: string, version: number | undefined, nowMs: number): Promise<ModelVersion> {
    if (version !== undefined) {
      const cached = this.versions.get(`${name}@${version}`);
      if (cached) return cached;
    } else {
      const cached = this.latest.get(name);
      if (cached && nowMs - cached.at < MUTABLE_TTL_MS) return cached.model;
    }
    const model = await getModelVersion(db, name, version);
    this.remember(this.versions, `${name}@${model.version}`, model);
    if (version === undefined) this.remember(this.latest, name, { model, at: nowMs });
    return model;
  }

  /** Forgets which version of `name` is the latest (after a publish in this isolate). */
  forgetLatest(name: string): void {
    this.latest.delete(name);
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > this.capacity) map.delete(map.keys().next().value!);
  }
}

/** This isolate's model versions. */
export const modelVersionCache = new ModelVersionCache();
