// etcd-operator: the command line, the process wiring and signal handling. No reconcile logic here.
import { parseArgs } from "node:util";
import { startManager } from "./actors/manager.ts";
import { operatorMetrics } from "./actors/metrics.ts";
import { KubeClient } from "./k8s/client.ts";
import { EventRecorder } from "./k8s/events.ts";
import { type ApiServerAccess, loadApiServerAccess, upgradeTransport } from "./k8s/kubeconfig.ts";
import { LeaderElector } from "./k8s/lease.ts";
import { createLogger, isLogLevel, type Logger } from "./observability/log.ts";
import { Registry } from "./observability/metrics.ts";
import { registerProcessMetrics } from "./observability/process.ts";
import { serveObservability } from "./observability/server.ts";
import { runObjectCommand } from "./objectstore/cli.ts";
import { observeOpenClients } from "./etcd/client.ts";
import { observeEtcdCalls } from "./etcd/errors.ts";
import { exitingFailpoint, parseFailpoints } from "./actors/failpoints.ts";
import { isMemberAccessFlag, type MemberAccessFlag } from "./actors/member_access.ts";
import { startMemberAccess } from "./actors/member_dialer.ts";
import type { TenancySettings } from "./actors/tenancy.ts";

const usage = `usage: etcd-operator <command> [options]

commands:
  run                      run the operator
    --kubeconfig PATH        kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
    --namespace NS           watch one namespace (default: all)
    --etcd-repository REPO   etcd image repository (default: quay.io/coreos/etcd)
    --operator-image IMAGE   image of restore pods' download step (default: $ETCD_OPERATOR_IMAGE)
    --metrics-addr ADDR      /metrics, /healthz, /readyz (default: :8080; "0" disables)
    --leader-elect           hold a Lease before acting, for several replicas
    --leader-election-namespace NS   where the Lease lives (default: the pod's namespace)
    --log-level LEVEL        debug, info, warn or error (default: info)
    --health-interval SECONDS   how often a converged cluster's etcd is probed (default: 15)
    --replace-unschedulable-after SECONDS
                             replace a member whose pod cannot be scheduled for this long
                             or whose node is not ready for this long
                             (default: 300; a member whose data is lost is replaced at once)
    --ignore-nodes           do not read Nodes (for installs granted nothing cluster-wide); a
                             member on a dead node is then replaced once its pod is unschedulable
    --member-access MODE     how members are dialled: auto (default; in a pod by DNS name,
                             outside by pod IP if one answers a probe, else port-forward),
                             direct (DNS name in a pod, pod IP outside) or port-forward
                             (through the API server's pods/portforward, from anywhere)
    --allow-external-backup-sources
                             let an EtcdBackup read any etcd URL (an IP, an outside host), not
                             only a member of an EtcdCluster in its own namespace: for installs
                             whose tenants all trust each other (docs/tenancy.md)
    --allow-ambient-credentials
                             let an object without credentialsSecretRef use the operator's own
                             object-store credentials, for AWS's and Google's own endpoints only
    --ambient-credentials-endpoint URL
                             (repeatable; needs --allow-ambient-credentials) also send the
                             operator's own credentials to this endpoint, as objects write it
  object put <url> [--file PATH]
  object get <url> [--file PATH] [--sha256 HEX]
                           copy a file to or from s3:// or gs:// (restore pods use it)
`;

interface RunFlags {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly etcdRepository: string;
  readonly operatorImage?: string;
  readonly metricsAddr: string;
  readonly leaderElect: boolean;
  readonly leaderElectionNamespace?: string;
  readonly logLevel: string;
  readonly healthIntervalSeconds: number;
  readonly replaceAfterSeconds: number;
  readonly ignoreNodes: boolean;
  readonly memberAccess: MemberAccessFlag;
  readonly tenancy: TenancySettings;
}

function parseRunFlags(args: readonly string[]): RunFlags {
  const { values } = parseArgs({
    args: [...args],
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string" },
      "etcd-repository": { type: "string", default: "quay.io/coreos/etcd" },
      "operator-image": { type: "string" },
      "metrics-addr": { type: "string", default: ":8080" },
      "leader-elect": { type: "boolean", default: false },
      "leader-election-namespace": { type: "string" },
      "log-level": { type: "string", default: "info" },
      "health-interval": { type: "string", default: "15" },
      "replace-unschedulable-after": { type: "string", default: "300" },
      "ignore-nodes": { type: "boolean", default: false },
      "member-access": { type: "string", default: "auto" },
      "allow-external-backup-sources": { type: "boolean", default: false },
      "allow-ambient-credentials": { type: "boolean", default: false },
      "ambient-credentials-endpoint": { type: "string", multiple: true, default: [] },
    },
    strict: true,
    allowPositionals: false,
  });
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    etcdRepository: values["etcd-repository"],
    operatorImage: values["operator-image"],
    metricsAddr: values["metrics-addr"],
    leaderElect: values["leader-elect"],
    leaderElectionNamespace: values["leader-election-namespace"],
    logLevel: values["log-level"],
    healthIntervalSeconds: positiveSeconds("--health-interval", values["health-interval"]),
    replaceAfterSeconds: positiveSeconds(
      "--replace-unschedulable-after",
      values["replace-unschedulable-after"],
    ),
    ignoreNodes: values["ignore-nodes"],
    memberAccess: memberAccessFlag(values["member-access"]),
    tenancy: tenancySettings(
      values["allow-external-backup-sources"],
      values["allow-ambient-credentials"],
      values["ambient-credentials-endpoint"],
    ),
  };
}

function memberAccessFlag(value: string): MemberAccessFlag {
  if (!isMemberAccessFlag(value)) {
    throw new Error(`--member-access ${value}: use auto, direct or port-forward`);
  }
  return value;
}

function tenancySettings(
  allowExternalBackupSources: boolean,
  allowAmbientCredentials: boolean,
  ambientCredentialsEndpoints: readonly string[],
): TenancySettings {
  if (ambientCredentialsEndpoints.length > 0 && !allowAmbientCredentials) {
    throw new Error("--ambient-credentials-endpoint needs --allow-ambient-credentials");
  }
  for (const endpoint of ambientCredentialsEndpoints) {
    if (!/^https?:\/\/[^/?#@]+(\/[^?#]*)?$/.test(endpoint) || endpoint.endsWith("/")) {
      throw new Error(
        `--ambient-credentials-endpoint ${endpoint}: write it as object URLs do, ` +
          `http(s)://host[:port][/path] without a trailing slash`,
      );
    }
  }
  return { allowExternalBackupSources, allowAmbientCredentials, ambientCredentialsEndpoints };
}

function positiveSeconds(flag: string, value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 1) {
    throw new Error(`${flag} ${value}: give a number of seconds, at least 1`);
  }
  return seconds;
}

async function runOperator(args: readonly string[]): Promise<number> {
  const flags = parseRunFlags(args);
  if (!isLogLevel(flags.logLevel)) {
    throw new Error(`--log-level ${flags.logLevel}: use debug, info, warn or error`);
  }
  const log = createLogger(flags.logLevel, { component: "etcd-operator" });
  const apiServer = await loadApiServerAccess({ path: flags.kubeconfig });
  const registry = new Registry();
  registerProcessMetrics(registry);
  const metrics = operatorMetrics(registry, log);
  observeEtcdCalls(metrics.etcdCall);
  observeOpenClients(metrics.etcdClients);
  // One client for everything (watches, writes, Events, the Lease), so every request is counted.
  const kube = await KubeClient.connect(apiServer, { observer: metrics.kubeRequest });
  const memberAccess = await startMemberAccess({
    flag: flags.memberAccess,
    inCluster: Deno.env.get("KUBERNETES_SERVICE_HOST") !== undefined,
    namespace: flags.namespace,
    kube,
    transport: () => upgradeTransport(apiServer),
    log,
    onForwardCounts: metrics.portForwards,
  });
  const stop = new AbortController();
  const { promise: stopped, resolve: exit } = Promise.withResolvers<number>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => exit(0));
  }

  let manager: ReturnType<typeof startManager> | undefined;
  const startWork = () => {
    log.info("starting", {
      namespace: flags.namespace ?? "(all)",
      memberAccess: memberAccess.mode,
      ...flags.tenancy,
    });
    manager = startManager({
      kube,
      events: eventSink(kube, log),
      log,
      hooks: metrics.hooks,
      namespace: flags.namespace,
      memberAccess,
      tenancy: flags.tenancy,
      etcdRepository: flags.etcdRepository,
      operatorImage: flags.operatorImage,
      onEscalate: (reason) => {
        log.error("giving up after repeated actor failures; exiting so the process is restarted", {
          reason,
        });
        exit(1);
      },
      onStep: metrics.step,
      onQuorumLost: metrics.quorumLost,
      onReaction: metrics.clusterReaction,
      healthIntervalMs: flags.healthIntervalSeconds * 1000,
      replaceAfterMs: flags.replaceAfterSeconds * 1000,
      watchNodes: !flags.ignoreNodes,
      failpoint: exitingFailpoint(
        parseFailpoints(Deno.env.get("ETCD_OPERATOR_FAILPOINTS")),
        (point) => log.error("failpoint reached: exiting", { point }),
      ),
    });
    manager.synced.then(() => log.info("watches synced"));
  };
  const elector = flags.leaderElect
    ? leaderElector(kube, apiServer, flags, log, startWork, () => exit(1))
    : undefined;
  if (elector) elector.start();
  else startWork();

  const server = flags.metricsAddr === "0"
    ? undefined
    : serveObservability(flags.metricsAddr, registry, () => {
      // A standby replica is ready: it is healthy and will take over when the leader goes.
      if (!manager) return elector ? undefined : "starting";
      const silent = manager.secondsSinceLastEvent();
      return silent > 600 ? `a watch has been silent for ${Math.round(silent)} s` : undefined;
    }, stop.signal);

  const code = await stopped;
  log.info("shutting down");
  await manager?.stop();
  log.debug("actors and watches stopped");
  await elector?.stop();
  stop.abort();
  await server?.finished;
  memberAccess.close();
  kube.close();
  log.info("stopped");
  return code;
}

function eventSink(kube: KubeClient, log: Logger) {
  const recorder = new EventRecorder(kube, {
    component: "etcd-operator",
    instance: Deno.env.get("POD_NAME") ?? Deno.hostname(),
    log: (level, message, fields) => log[level](message, fields),
  });
  return {
    record: (...args: Parameters<EventRecorder["record"]>) => void recorder.record(...args),
  };
}

function leaderElector(
  kube: KubeClient,
  apiServer: ApiServerAccess,
  flags: RunFlags,
  log: Logger,
  onStartedLeading: () => void,
  onStoppedLeading: () => void,
): LeaderElector {
  const namespace = flags.leaderElectionNamespace ?? Deno.env.get("POD_NAMESPACE") ??
    apiServer.namespace ?? "default";
  return new LeaderElector(kube, {
    namespace,
    name: "etcd-operator",
    identity: `${Deno.env.get("POD_NAME") ?? Deno.hostname()}-${crypto.randomUUID().slice(0, 8)}`,
    onStartedLeading,
    // Actors may be mid-step: exiting is the safe way to stop acting, and every step resumes.
    onStoppedLeading: () => {
      log.error("lost leadership; exiting");
      onStoppedLeading();
    },
    log: (level, message, fields) => log[level](message, fields),
  });
}

async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "object":
      return await runObjectCommand(rest);
    case "run":
      return await runOperator(rest);
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return 0;
    default:
      console.error(
        command === undefined ? usage : `unknown command ${JSON.stringify(command)}\n\n${usage}`,
      );
      return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
