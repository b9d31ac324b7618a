// The logging callback this layer reports through; the operator passes its JSON logger in.

export type LogLevel = "debug" | "info" | "warn" | "error";

export type Log = (
  level: LogLevel,
  message: string,
  fields?: Readonly<Record<string, unknown>>,
) => void;

/** Until the operator wires its own logger in: one JSON line per message on stderr. */
export const stderrLog: Log = (level, message, fields) => {
  if (level === "debug") return;
  console.error(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }));
};

export const silentLog: Log = () => {};

/** Errors as log fields: `unknown` thrown values stringified the same way everywhere. */
export function errorField(thrown: unknown): string {
  return thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
}
