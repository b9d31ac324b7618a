// A cluster's health as its status tells it, and a writer that must see nothing fail or go
// missing while a test hurts the cluster. Shared by the fault tests.
import assert from "node:assert/strict";
import { eventually, getJson, kubectlOk } from "./cluster.ts";
import { clientServiceIP, startWriter, type Writer } from "./writer.ts";

export const clusterName = "my-cluster";

export interface ClusterStatus {
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly members?: readonly { name: string; id: string }[];
  readonly conditions?: readonly {
    type: string;
    status: string;
    reason: string;
    message: string;
  }[];
}

export async function clusterStatus(namespace: string): Promise<ClusterStatus> {
  const cluster = await getJson<{ status?: ClusterStatus }>([
    "etcdcluster",
    "-n",
    namespace,
    clusterName,
  ]);
  return cluster?.status ?? {};
}

export const condition = (status: ClusterStatus, type: string) =>
  status.conditions?.find((c) => c.type === type);

/** `replicas` healthy voting members, all listed, quorum healthy. */
export function healthy(status: ClusterStatus, replicas: number): boolean {
  return status.replicas === replicas && status.readyReplicas === replicas &&
    status.members?.length === replicas && condition(status, "Available")?.status === "True" &&
    condition(status, "Degraded")?.status === "False";
}

export function waitHealthy(namespace: string, replicas: number, timeoutSeconds = 240) {
  return eventually(
    `${replicas} healthy members`,
    () => clusterStatus(namespace),
    (status) => healthy(status, replicas),
    timeoutSeconds,
  );
}

/**
 * Runs `body` while a writer puts 20 keys/s through the client Service, then asserts that no
 * acknowledged write failed or was lost. The writer is stopped whatever `body` does.
 */
export async function underWriter(namespace: string, label: string, body: () => Promise<void>) {
  const writer = startWriter(await clientServiceIP(namespace, clusterName), 20);
  try {
    await body();
  } catch (error) {
    await writer.stop();
    throw error;
  }
  await finishWriter(writer, label);
}

async function finishWriter(writer: Writer, label: string) {
  const result = await writer.stop();
  console.log(
    `${label}: ${result.acknowledged.length} writes acknowledged, ${result.failed} failed, ` +
      `${result.missing.length} lost`,
  );
  assert.equal(result.failed, 0, "no write may fail");
  assert.deepEqual(result.missing, [], "no acknowledged write may be lost");
  assert.ok(result.acknowledged.length > 0);
}

/** The reasons of the Events recorded against the namespace's EtcdClusters, oldest first. */
export async function eventReasons(namespace: string): Promise<string[]> {
  const reasons = await kubectlOk([
    "get",
    "events",
    "-n",
    namespace,
    "--field-selector",
    "involvedObject.kind=EtcdCluster",
    "-o",
    "jsonpath={.items[*].reason}",
  ]);
  return reasons.split(/\s+/).filter(Boolean);
}
