/**
 * Schemas of their own for the app tests on the shared server: a fresh
 * name per test, and the event store's and view schema's removal after it.
 */
import { connectDatabase } from "@sequent/core/postgres";

/** `<prefix>_` and ten random hex digits. */
export function schemaName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

/** Drops `schema` and `<schema>_view` on the server at `url`. */
export async function dropSchemas(url: string, schema: string): Promise<void> {
  const admin = await connectDatabase(url);
  try {
    await admin.execute(
      `DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_view CASCADE`,
    );
  } finally {
    await admin.close();
  }
}
