/** Builds dist/ when it is missing or older than the TypeScript sources. */
export function ensureBuilt(): Promise<void>;
