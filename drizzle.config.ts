import { defineConfig } from 'drizzle-kit';

// Migrations are generated into schema/migrations, which wrangler.toml names as the D1 migrations_dir.
export default defineConfig({
  dialect: 'sqlite',
  driver: 'd1-http',
  schema: './schema/tables.ts',
  out: './schema/migrations',
});
