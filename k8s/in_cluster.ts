// The API server as a pod sees it: the Service environment variables and the service account's
// projected files, read the way client-go's InClusterConfig reads them.
import type { ApiServerAccess } from "./kubeconfig.ts";

export const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/** What decides that the process runs in a pod; the files are read later, by `inClusterAccess`. */
export function runsInCluster(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
  dir = serviceAccountDir,
): boolean {
  if (!env("KUBERNETES_SERVICE_HOST") || !env("KUBERNETES_SERVICE_PORT")) return false;
  try {
    return Deno.statSync(`${dir}/token`).isFile;
  } catch {
    return false;
  }
}

/** `host:port`, with an IPv6 host in brackets (net.JoinHostPort). */
export function joinHostPort(host: string, port: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The token is read again for each set of headers (the transport caches them for seconds): the
 * kubelet rotates a bound service-account token long before it expires, and a process that kept
 * the first one would start failing after an hour or so.
 */
export function inClusterAccess(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
  dir = serviceAccountDir,
): ApiServerAccess {
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT");
  if (!host || !port) {
    throw new Error("in a cluster, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set");
  }
  const caCert = Deno.readTextFileSync(`${dir}/ca.crt`);
  let namespace: string | undefined;
  try {
    namespace = Deno.readTextFileSync(`${dir}/namespace`).trim() || undefined;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return {
    server: `https://${joinHostPort(host, port)}`,
    namespace,
    proxyUrl: undefined,
    tls: () => Promise.resolve({ caCert }),
    authHeaders: async () => {
      const token = (await Deno.readTextFile(`${dir}/token`)).trim();
      if (!token) throw new Error(`${dir}/token is empty`);
      return new Headers({ Authorization: `Bearer ${token}` });
    },
  };
}
