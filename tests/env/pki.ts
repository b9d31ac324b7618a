// Certificates and kubeconfigs of the test cluster, made with openssl; existing ones are kept.
import { join } from "node:path";
import { type EnvNode, network, stateDir } from "./config.ts";
import { run } from "./processes.ts";

export const pkiDir = join(stateDir, "pki");
export const caCert = join(pkiDir, "ca.crt");
export const serviceAccountKey = join(pkiDir, "sa.key");
export const serviceAccountPub = join(pkiDir, "sa.pub");

export interface Identity {
  readonly file: string;
  readonly commonName: string;
  readonly organization?: string;
  readonly usage: "client" | "server" | "both";
  readonly altNames?: readonly string[];
}

/** Every certificate a component presents, by file name; groups come from O=. */
export const identities = {
  apiserver: {
    file: "apiserver",
    commonName: "kube-apiserver",
    usage: "server",
    altNames: [
      `IP:${network.nodeIp}`,
      `IP:${network.kubernetesServiceIp}`,
      "IP:127.0.0.1",
      "DNS:localhost",
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      `DNS:kubernetes.default.svc.${network.clusterDomain}`,
    ],
  },
  apiserverKubeletClient: {
    file: "apiserver-kubelet-client",
    commonName: "kube-apiserver-kubelet-client",
    organization: "system:masters",
    usage: "client",
  },
  admin: {
    file: "admin",
    commonName: "etcd-env-admin",
    organization: "system:masters",
    usage: "client",
  },
  controllerManager: {
    file: "controller-manager",
    commonName: "system:kube-controller-manager",
    usage: "client",
  },
  scheduler: { file: "scheduler", commonName: "system:kube-scheduler", usage: "client" },
  kubeProxy: { file: "kube-proxy", commonName: "system:kube-proxy", usage: "client" },
  coredns: { file: "coredns", commonName: "etcd-env:coredns", usage: "client" },
  provisioner: { file: "provisioner", commonName: "etcd-env:provisioner", usage: "client" },
} as const satisfies Record<string, Identity>;

export function kubeletIdentity(node: EnvNode): Identity {
  return {
    file: `kubelet-${node.name}`,
    commonName: `system:node:${node.name}`,
    organization: "system:nodes",
    usage: "both",
    altNames: [`IP:${node.ip}`, `DNS:${node.name}`],
  };
}

export const certPath = (identity: Identity) => join(pkiDir, `${identity.file}.crt`);
export const keyPath = (identity: Identity) => join(pkiDir, `${identity.file}.key`);

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

export async function ensureCertificateAuthority(): Promise<void> {
  await Deno.mkdir(pkiDir, { recursive: true });
  if (!await exists(caCert)) {
    await run("openssl", [
      "req",
      "-x509",
      "-new",
      "-nodes",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-keyout",
      join(pkiDir, "ca.key"),
      "-out",
      caCert,
      "-days",
      "3650",
      "-subj",
      "/CN=etcd-env-ca",
    ]); // deno-fmt-ignore
  }
  if (!await exists(serviceAccountKey)) {
    await run("openssl", ["genrsa", "-out", serviceAccountKey, "2048"]);
    await run("openssl", ["rsa", "-in", serviceAccountKey, "-pubout", "-out", serviceAccountPub]);
  }
}

/** A random serial per certificate: a shared serial file would race when certificates are made in parallel. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // serials are positive
  return "0x" + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export async function ensureCertificate(identity: Identity): Promise<void> {
  if (await exists(certPath(identity))) return;
  const subject = (identity.organization ? `/O=${identity.organization}` : "") +
    `/CN=${identity.commonName}`;
  const usages = { client: "clientAuth", server: "serverAuth", both: "serverAuth,clientAuth" };
  const extensions = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${usages[identity.usage]}`,
    ...(identity.altNames ? [`subjectAltName=${identity.altNames.join(",")}`] : []),
  ].join("\n");
  const csr = join(pkiDir, `${identity.file}.csr`);
  const extFile = join(pkiDir, `${identity.file}.ext`);
  await Deno.writeTextFile(extFile, extensions + "\n");
  await run("openssl", [
    "req",
    "-new",
    "-nodes",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-keyout",
    keyPath(identity),
    "-out",
    csr,
    "-subj",
    subject,
  ]); // deno-fmt-ignore
  await run("openssl", [
    "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", join(pkiDir, "ca.key"), "-set_serial", randomSerial(),
    "-days", "3650", "-out", certPath(identity), "-extfile", extFile,
  ]); // deno-fmt-ignore
  await Deno.remove(csr);
  await Deno.remove(extFile);
}

const base64File = async (path: string) => btoa(String.fromCharCode(...await Deno.readFile(path)));

export type KubeconfigUser =
  | { readonly kind: "certificate"; readonly identity: Identity }
  | { readonly kind: "token"; readonly name: string; readonly token: string };

/** A self-contained kubeconfig (certificates inlined), so it can be copied anywhere. */
export async function renderKubeconfig(server: string, user: KubeconfigUser): Promise<string> {
  const userName = user.kind === "certificate" ? user.identity.commonName : user.name;
  const credentials = user.kind === "certificate"
    ? `    client-certificate-data: ${await base64File(certPath(user.identity))}\n` +
      `    client-key-data: ${await base64File(keyPath(user.identity))}\n`
    : `    token: ${user.token}\n`;
  return `apiVersion: v1
kind: Config
clusters:
- name: etcd-env
  cluster:
    server: ${server}
    certificate-authority-data: ${await base64File(caCert)}
users:
- name: ${userName}
  user:
${credentials}contexts:
- name: etcd-env
  context:
    cluster: etcd-env
    user: ${userName}
    namespace: default
current-context: etcd-env
`;
}
