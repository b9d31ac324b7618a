// `object put|get`: copies one object between a file (or stdin/stdout) and s3:// or gs://.
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import {
  credentialsFromEnvironment,
  type CredentialsSource,
  type Digest,
  downloadObject,
  formatObjectURL,
  type ObjectLocation,
  type ObjectMetadata,
  parseObjectURL,
  uploadObject,
} from "./mod.ts";
import { measure } from "./streams.ts";

const usage = `usage:
  object put <url> [--file PATH]                 upload PATH (default: stdin)
  object get <url> [--file PATH] [--sha256 HEX] [--metadata KEY=VALUE]
                                                 download to PATH (default: stdout)

<url> is s3://bucket/key[?endpoint=…&region=…&forcePathStyle=true] or gs://bucket/key[?endpoint=…].
Credentials come from the environment: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN]
(or any source the AWS SDK knows), GOOGLE_APPLICATION_CREDENTIALS_JSON or
GOOGLE_APPLICATION_CREDENTIALS for gs://. A one-line JSON result goes to stderr.
With --file, get writes a temporary file next to PATH and renames it only once the size and
(with --sha256) the digest match, so a failed download never leaves a partial PATH.
With --metadata, an object whose stored metadata has KEY with another value fails before any byte
is read (an object without KEY, such as one uploaded by hand, is checked by --sha256 alone).`;

const exitUsage = 2;
const exitFailed = 1;

interface Command {
  readonly action: "put" | "get";
  readonly location: ObjectLocation;
  readonly file: string | undefined;
  readonly sha256: string | undefined;
  /** A key of the object's metadata and the value it must have when present. */
  readonly metadata: { readonly key: string; readonly value: string } | undefined;
}

/** Runs `object …` with the arguments after `object`; resolves with the exit code. */
export async function runObjectCommand(args: readonly string[]): Promise<number> {
  const command = parseCommand(args);
  if (typeof command === "string") {
    console.error(`object: ${command}\n\n${usage}`);
    return exitUsage;
  }
  const credentials = credentialsFromEnvironment(command.location);
  if (!credentials.ok) return report(credentials.error.message);
  // SIGTERM (a pod being deleted) or Ctrl-C cancels cleanly: multipart aborted, no partial file.
  const cancel = new AbortController();
  const onSignal = () => cancel.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const run = command.action === "put" ? put : get;
    return await run(command, credentials.value, cancel.signal);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** The command, or a usage message saying what is wrong with the arguments. */
function parseCommand(args: readonly string[]): Command | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        file: { type: "string" },
        sha256: { type: "string" },
        metadata: { type: "string" },
      },
    });
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const [action, url, ...extra] = parsed.positionals;
  const { file, sha256, metadata } = parsed.values;
  if (action !== "put" && action !== "get") {
    return `expected put or get, not ${action ?? "nothing"}`;
  }
  if (url === undefined) return `object ${action} needs a URL`;
  if (extra.length > 0) return `unexpected arguments: ${extra.join(" ")}`;
  if (action === "put" && sha256 !== undefined) return "--sha256 only applies to get";
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    return "--sha256 must be 64 hex digits";
  }
  if (action === "put" && metadata !== undefined) return "--metadata only applies to get";
  const expected = metadata === undefined ? undefined : parseMetadataFlag(metadata);
  if (typeof expected === "string") return expected;
  const location = parseObjectURL(url);
  if (!location.ok) return location.error.message;
  return {
    action,
    location: location.value,
    file,
    sha256: sha256?.toLowerCase(),
    metadata: expected,
  };
}

function parseMetadataFlag(text: string): Command["metadata"] | string {
  const match = /^([a-z0-9][-a-z0-9_.]*)=(.+)$/.exec(text);
  if (!match) return "--metadata must be KEY=VALUE with a lower-case key";
  return { key: match[1], value: match[2] };
}

async function put(
  command: Command,
  credentials: CredentialsSource,
  signal: AbortSignal,
): Promise<number> {
  let body: ReadableStream<Uint8Array>;
  try {
    body = command.file === undefined
      ? Deno.stdin.readable
      : (await Deno.open(command.file)).readable;
  } catch (error) {
    return report(`cannot read ${command.file}: ${describe(error)}`);
  }
  const result = await uploadObject(command.location, body, { credentials, signal });
  if (!result.ok) return report(result.error.message);
  return done(command.location, result.value);
}

async function get(
  command: Command,
  credentials: CredentialsSource,
  signal: AbortSignal,
): Promise<number> {
  const opened = await downloadObject(command.location, { credentials, signal });
  if (!opened.ok) return report(opened.error.message);
  const unexpected = metadataProblem(command, opened.value.metadata);
  if (unexpected !== undefined) {
    await opened.value.stream.cancel().catch(() => {});
    return report(unexpected);
  }
  const measured = measure(opened.value.stream);
  const check = () => verify(command, measured.digest(), opened.value.sizeBytes);
  // stdout cannot be taken back, so there a mismatch is reported after the bytes went out.
  const problem = command.file === undefined
    ? (await writeToStdout(measured.stream)) ?? check()
    : await writeAtomically(command.file, measured.stream, check);
  const digest = measured.digest();
  if (problem !== undefined || digest === undefined) {
    return report(problem ?? "the download ended early");
  }
  return done(command.location, digest);
}

/** The object's metadata names another value for the expected key: it is not the object meant. */
export function metadataProblem(
  command: Pick<Command, "location" | "metadata">,
  stored: ObjectMetadata,
): string | undefined {
  const expected = command.metadata;
  if (expected === undefined) return undefined;
  const found = stored[expected.key];
  if (found === undefined || found === expected.value) return undefined;
  const shown = Object.entries(stored).sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`).join(", ");
  return `${formatObjectURL(command.location)}: the object is not the one expected: its ` +
    `metadata says ${shown}, but ${expected.key}=${expected.value} was expected: another ` +
    `upload has replaced it`;
}

/** Why the download must not be used, or `undefined` when size and digest are as expected. */
function verify(
  command: Command,
  digest: Digest | undefined,
  expectedBytes: number | undefined,
): string | undefined {
  const shown = formatObjectURL(command.location);
  if (digest === undefined) return `${shown}: the download ended early`;
  if (expectedBytes !== undefined && digest.sizeBytes !== expectedBytes) {
    return `${shown}: got ${digest.sizeBytes} bytes but the store lists ${expectedBytes}`;
  }
  if (command.sha256 !== undefined && digest.sha256 !== command.sha256) {
    return `${shown}: sha256 mismatch: expected ${command.sha256}, got ${digest.sha256}`;
  }
  return undefined;
}

/** Streams into a temporary file beside `path`, renamed over it only if `check` finds nothing. */
async function writeAtomically(
  path: string,
  stream: ReadableStream<Uint8Array>,
  check: () => string | undefined,
): Promise<string | undefined> {
  let temporary: string;
  try {
    temporary = await Deno.makeTempFile({ dir: dirname(path), prefix: ".object-get-" });
  } catch (error) {
    await stream.cancel().catch(() => {});
    return `cannot write next to ${path}: ${describe(error)}`;
  }
  try {
    const file = await Deno.open(temporary, { write: true, truncate: true });
    await stream.pipeTo(file.writable);
    const problem = check();
    if (problem !== undefined) return problem;
    await Deno.rename(temporary, path);
    return undefined;
  } catch (error) {
    return describe(error);
  } finally {
    await Deno.remove(temporary).catch(() => {}); // gone already after a successful rename
  }
}

async function writeToStdout(stream: ReadableStream<Uint8Array>): Promise<string | undefined> {
  try {
    // Left open: the caller still prints to the process's stdout after this.
    await stream.pipeTo(Deno.stdout.writable, { preventClose: true });
    return undefined;
  } catch (error) {
    return describe(error);
  }
}

function done(location: ObjectLocation, digest: Digest): number {
  const url = formatObjectURL(location);
  console.error(JSON.stringify({ url, sizeBytes: digest.sizeBytes, sha256: digest.sha256 }));
  return 0;
}

function report(message: string): number {
  console.error(`object: ${message}`);
  return exitFailed;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
