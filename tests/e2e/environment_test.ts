// Proves the test cluster itself: storage, DNS, pod networking, object stores and RBAC are real.
import assert from "node:assert/strict";
import {
  apply,
  e2e,
  kubectl,
  kubectlOk,
  runPodToCompletion,
  temporaryNamespace,
  waitForPodPhase,
} from "./support/cluster.ts";

const etcd34Image = "quay.io/coreos/etcd:v3.4.23";
const clientImage = () => `etcd-operator.local/etcdctl:${etcdClientTag()}`;
const operatorImage = "etcd-operator.local/operator:dev";

function etcdClientTag(): string {
  return Deno.env.get("E2E_ETCDCTL_TAG") ?? "v3.5.21";
}

/** One etcd 3.4 member in a ReplicaSet, on a PVC, behind a headless Service, as the operator will run it. */
function singleEtcdMember(namespace: string): string {
  const host = `etcd-0.smoke.${namespace}.svc`;
  return `apiVersion: v1
kind: Service
metadata: {name: smoke, namespace: ${namespace}}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: smoke-etcd}
  ports:
  - {name: etcd-client, port: 2379}
  - {name: etcd-peer, port: 2380}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: etcd-0, namespace: ${namespace}}
spec:
  storageClassName: standard
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 50Mi}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: etcd-0, namespace: ${namespace}}
spec:
  replicas: 1
  selector: {matchLabels: {app: smoke-etcd}}
  template:
    metadata: {labels: {app: smoke-etcd}}
    spec:
      hostname: etcd-0
      subdomain: smoke
      containers:
      - name: etcd
        image: ${etcd34Image}
        imagePullPolicy: IfNotPresent
        command: [/usr/local/bin/etcd]
        env:
        - {name: ETCD_NAME, value: etcd-0}
        - {name: ETCD_DATA_DIR, value: /var/lib/etcd}
        - {name: ETCD_LISTEN_CLIENT_URLS, value: "http://0.0.0.0:2379"}
        - {name: ETCD_ADVERTISE_CLIENT_URLS, value: "http://${host}:2379"}
        - {name: ETCD_LISTEN_PEER_URLS, value: "http://0.0.0.0:2380"}
        - {name: ETCD_INITIAL_ADVERTISE_PEER_URLS, value: "http://${host}:2380"}
        - {name: ETCD_INITIAL_CLUSTER, value: "etcd-0=http://${host}:2380"}
        - {name: ETCD_INITIAL_CLUSTER_STATE, value: new}
        volumeMounts:
        - {name: data, mountPath: /var/lib/etcd}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: etcd-0}
`;
}

async function etcdPod(namespace: string): Promise<{ name: string; uid: string }> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const list = JSON.parse(
      await kubectlOk(["get", "pods", "-n", namespace, "-l", "app=smoke-etcd", "-o", "json"]),
    ) as { items: { metadata: { name: string; uid: string; deletionTimestamp?: string } }[] };
    const live = list.items.filter((pod) => !pod.metadata.deletionTimestamp);
    if (live.length === 1) return { name: live[0].metadata.name, uid: live[0].metadata.uid };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`no single live etcd pod in ${namespace}`);
}

/** etcdctl from another pod, through the member's headless-service DNS name. */
function etcdctlFromPod(namespace: string, podName: string, args: readonly string[]) {
  return runPodToCompletion(namespace, {
    name: podName,
    image: clientImage(),
    command: [
      "etcdctl",
      `--endpoints=http://etcd-0.smoke.${namespace}.svc:2379`,
      "--dial-timeout=5s",
      "--command-timeout=10s",
      ...args,
    ],
  });
}

async function waitUntilServing(namespace: string, attemptPrefix: string): Promise<void> {
  // The pod is Running before etcd answers and before DNS has its record: retry a few times.
  for (let attempt = 0; attempt < 20; attempt++) {
    const health = await etcdctlFromPod(namespace, `${attemptPrefix}-${attempt}`, [
      "endpoint",
      "health",
    ]);
    if (health.phase === "Succeeded") return;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new Error(`etcd in ${namespace} never became reachable by its DNS name`);
}

Deno.test("an etcd 3.4.23 pod on a standard PVC answers etcdctl through its headless-service DNS name, and its data survives the pod's deletion", async () => {
  await using namespace = await temporaryNamespace("env-etcd");
  await apply(singleEtcdMember(namespace.name));
  const pvcPhase = await kubectlOk([
    "get",
    "pvc",
    "-n",
    namespace.name,
    "etcd-0",
    "-o",
    "jsonpath={.status.phase}",
  ]);
  const first = await etcdPod(namespace.name);
  await waitForPodPhase(namespace.name, first.name, ["Running"], 120);
  await waitUntilServing(namespace.name, "health-a");

  const put = await etcdctlFromPod(namespace.name, "put", [
    "put",
    "smoke-key",
    "written-before-deletion",
  ]);
  assert.equal(put.phase, "Succeeded", put.logs);
  assert.match(put.logs, /OK/);
  assert(["Bound", "Pending"].includes(pvcPhase.trim()), `PVC phase ${pvcPhase}`);
  assert.equal(
    await kubectlOk([
      "get",
      "pvc",
      "-n",
      namespace.name,
      "etcd-0",
      "-o",
      "jsonpath={.status.phase}",
    ]),
    "Bound",
  );

  await kubectlOk(["delete", "pod", "-n", namespace.name, first.name, "--wait=true"]);
  const second = await etcdPod(namespace.name);
  assert.notEqual(second.uid, first.uid, "the ReplicaSet should have created a new pod");
  await waitForPodPhase(namespace.name, second.name, ["Running"], 120);
  await waitUntilServing(namespace.name, "health-b");

  const get = await etcdctlFromPod(namespace.name, "get", [
    "get",
    "smoke-key",
    "--print-value-only",
  ]);
  assert.equal(get.phase, "Succeeded", get.logs);
  assert.equal(get.logs.trim(), "written-before-deletion");
});

Deno.test("a pod writes to and reads back from MinIO and fake-gcs-server through their in-cluster names", async () => {
  await using namespace = await temporaryNamespace("env-stores");
  const payload = `payload from a pod ${crypto.randomUUID()}\n`;
  const digest = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(payload))),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
  await apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: payload, namespace: ${namespace.name}}
data: {payload: ${JSON.stringify(payload)}}
`);
  const s3 = e2e.s3();
  const gcs = e2e.gcs();
  const key = `env-smoke/${namespace.name}`;
  const urls = [
    `s3://${s3.bucket}/${key}?endpoint=${s3.inClusterEndpoint}&region=${s3.region}`,
    `gs://${gcs.bucket}/${key}?endpoint=${gcs.inClusterEndpoint}`,
  ];
  const extraSpec = `    env:
    - {name: AWS_ACCESS_KEY_ID, value: ${s3.accessKey}}
    - {name: AWS_SECRET_ACCESS_KEY, value: ${s3.secretKey}}
    volumeMounts:
    - {name: payload, mountPath: /payload}
  volumes:
  - name: payload
    configMap: {name: payload}
`;
  for (const [index, url] of urls.entries()) {
    const put = await runPodToCompletion(namespace.name, {
      name: `put-${index}`,
      image: operatorImage,
      command: [
        "/usr/local/bin/deno",
        "run",
        "-A",
        "--cached-only",
        "/app/mod.ts",
        "object",
        "put",
        url,
        "--file",
        "/payload/payload",
      ],
      extraSpec,
    }); // deno-fmt-ignore
    assert.equal(put.phase, "Succeeded", `put ${url}: ${put.logs}`);
    const get = await runPodToCompletion(namespace.name, {
      name: `get-${index}`,
      image: operatorImage,
      command: [
        "/usr/local/bin/deno",
        "run",
        "-A",
        "--cached-only",
        "/app/mod.ts",
        "object",
        "get",
        url,
        "--sha256",
        digest,
      ],
      extraSpec,
    }); // deno-fmt-ignore
    assert.equal(get.phase, "Succeeded", `get ${url}: ${get.logs}`);
    assert(get.logs.includes(payload.trim()), `get ${url} printed: ${get.logs}`);
  }
});

Deno.test("the operator's kubeconfig is allowed what its ClusterRole grants and forbidden everything else", async () => {
  const asOperator = (args: string[]) => kubectl(args, { kubeconfig: e2e.operatorKubeconfig() });
  const whoami = await asOperator(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
  assert.equal(
    whoami.stdout,
    "system:serviceaccount:etcd-operator-system:etcd-operator",
    whoami.stderr,
  );

  for (
    const allowed of [
      ["get", "replicasets", "-A"],
      ["get", "persistentvolumeclaims", "-A"],
      ["get", "poddisruptionbudgets", "-A"],
      ["get", "nodes"],
    ]
  ) {
    const result = await asOperator(allowed);
    assert(result.success, `expected ${allowed.join(" ")} to be allowed: ${result.stderr}`);
  }
  const forbidden = [
    // Secrets are listed and written for TLS (labelled ones only, though RBAC cannot say so).
    ["get", "configmaps", "-n", "kube-system"],
    ["label", "nodes", "--all", "x=y", "--dry-run=server"],
    ["create", "deployment", "nope", "--image=busybox", "-n", "default"],
    ["create", "clusterrolebinding", "escalate", "--clusterrole=cluster-admin", "--user=nobody"],
    ["delete", "namespace", "objectstores", "--dry-run=server"],
  ];
  for (const action of forbidden) {
    const result = await asOperator(action);
    assert(!result.success, `expected ${action.join(" ")} to be refused, it succeeded`);
    assert.match(result.stderr, /Forbidden|forbidden/, `${action.join(" ")}: ${result.stderr}`);
  }
});
