import { defineConfig } from 'drizzle-kit';

// Every table is exported from schema/index.ts. Migrations are generated into schema/migrations,
// which wrangler.toml names as the D1 migrations_dir.
export default defineConfig({
  dialect: 'sqlite',
  driver: 'd1-http',
  schema: './schema/index.ts',
  out: './schema/migrations',
});
