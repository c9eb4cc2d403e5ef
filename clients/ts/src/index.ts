/**
 * Machina's reference TypeScript client: build, sign and submit every action (the schema in
 * `schema.json` drives the encoder), wait for receipts, query the API and follow the event
 * stream. The wire format is `docs/wire.md`.
 */
export * from "./codec.js";
export * from "./keys.js";
export * from "./tx.js";
export * from "./client.js";
