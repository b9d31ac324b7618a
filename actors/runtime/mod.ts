// The actor runtime's public surface: mailbox, actor, supervisor, registry, clock and hooks.
export type {
  ActorContext,
  ActorEnvironment,
  ActorRef,
  ActorSpec,
  Behavior,
  Cancel,
  TerminateReason,
} from "./actor.ts";
export { Actor } from "./actor.ts";
export type { BackoffPolicy, IntensityPolicy, RestartPolicy } from "./backoff.ts";
export { backoffDelay, defaultRestartPolicy } from "./backoff.ts";
export type { ChildStatus, ParentLink, StopOptions, SupervisedChild } from "./child.ts";
export type { Clock, TimerId } from "./clock.ts";
export { systemClock } from "./clock.ts";
export type {
  ActorLabels,
  DropReason,
  EscalationReason,
  InFlightOutcome,
  RuntimeCounter,
  RuntimeEvent,
  RuntimeGauge,
  RuntimeHooks,
} from "./hooks.ts";
export { guardedHooks, silentHooks } from "./hooks.ts";
export type { Delivery, MailboxMode, PutBackOutcome } from "./mailbox.ts";
export { Mailbox } from "./mailbox.ts";
export type { ActorTemplate, KeyedChildren, RegistrySpec } from "./registry.ts";
export { Registry, spawnRegistry } from "./registry.ts";
export type {
  ChildSummary,
  Escalation,
  RootSupervisorOptions,
  SupervisorSpec,
} from "./supervisor.ts";
export { EscalationError, startSupervisor, Supervisor, supervisorKind } from "./supervisor.ts";
