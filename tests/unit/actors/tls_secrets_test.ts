// Which Secrets the operator watches by name: exactly those the clusters name as user-provided.
import assert from "node:assert/strict";
import { namedSecretKeys } from "../../../actors/tls_secrets.ts";
import type { EtcdClusterObject } from "../../../actors/types.ts";

const cluster = (namespace: string, name: string, tls?: EtcdClusterObject["spec"]["tls"]) =>
  ({
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdCluster",
    metadata: { namespace, name, uid: name },
    spec: {
      replicas: 3,
      version: "3.5.21",
      storage: {
        volumeClaimTemplate: { storageClassName: "s", resources: { requests: { storage: "1Gi" } } },
      },
      ...(tls ? { tls } : {}),
    },
  }) as EtcdClusterObject;

Deno.test("the user-provided Secrets of every cluster are watched by name, in their namespace; nothing else", () => {
  assert.deepEqual(
    [
      ...namedSecretKeys([
        cluster("a", "plain"),
        cluster("a", "managed", { client: {}, peer: {} }),
        cluster("b", "user", {
          client: { userProvided: { serverSecretName: "server", operatorSecretName: "op" } },
          peer: { userProvided: { secretName: "peer" } },
        }),
        cluster("c", "mixed", { client: {}, peer: { userProvided: { secretName: "peer" } } }),
      ]),
    ],
    ["b/server", "b/op", "b/peer", "c/peer"],
  );
});
