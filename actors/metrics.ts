// The operator's metrics: the actor runtime's counters plus membership operations, by kind.
import type { Registry } from "../observability/metrics.ts";
import type { Logger } from "../observability/log.ts";
import type { RuntimeHooks } from "./runtime/mod.ts";

export interface OperatorMetrics {
  readonly hooks: RuntimeHooks;
  step(step: string, outcome: "ok" | "failed"): void;
}

export function operatorMetrics(registry: Registry, log: Logger): OperatorMetrics {
  const processed = registry.counter(
    "etcd_operator_reconciles_total",
    "Messages handled by actors, by kind.",
  );
  const failures = registry.counter(
    "etcd_operator_reconcile_errors_total",
    "Actor crashes, by kind.",
  );
  const restarts = registry.counter(
    "etcd_operator_actor_restarts_total",
    "Actor restarts by their supervisor, by kind.",
  );
  const dropped = registry.counter(
    "etcd_operator_messages_dropped_total",
    "Messages dropped, by kind.",
  );
  const depth = registry.gauge("etcd_operator_mailbox_depth", "Pending messages per actor.");
  const steps = registry.counter(
    "etcd_operator_cluster_steps_total",
    "Cluster steps (membership operations included), by step and outcome.",
  );
  const counters = {
    messagesProcessed: processed,
    failures,
    restarts,
    messagesDropped: dropped,
    escalations: failures,
  };
  return {
    hooks: {
      count: (counter, actor, amount) => counters[counter].inc({ kind: actor.kind }, amount),
      gauge: (_gauge, actor, value) => depth.set({ kind: actor.kind, name: actor.name }, value),
      event: (event) => {
        if (event.kind === "actorCrashed") {
          log.error("actor crashed", {
            actor: `${event.actor.kind} ${event.actor.name}`,
            error: String(event.error),
          });
        } else if (event.kind === "supervisorGaveUp") {
          log.error("supervisor gave up", {
            supervisor: event.supervisor,
            error: String(event.error),
          });
        } else {
          log.debug("runtime event", { event: event.kind });
        }
      },
    },
    step: (step, outcome) => steps.inc({ step, outcome }),
  };
}
