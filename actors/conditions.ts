// The Kubernetes condition rule every kind's status follows: lastTransitionTime moves only on a flip.
//
// A condition whose reason or message changes but whose status does not has not transitioned:
// `kubectl wait` and alerting read the time as "since when is this True/False/Unknown".

/** What the rule reads of a condition written before. */
export interface PreviousCondition {
  readonly type: string;
  readonly status: string;
  readonly lastTransitionTime?: string;
}

/**
 * `next` with its lastTransitionTime: the previous one of its type when the status is unchanged,
 * `now` when the status flipped, the condition is new, or the earlier one carried no time.
 */
export function withTransitionTime<C extends { readonly type: string; readonly status: string }>(
  next: C,
  previous: readonly PreviousCondition[],
  now: string,
): C & { readonly lastTransitionTime: string } {
  const before = previous.find((condition) => condition.type === next.type);
  const kept = before?.status === next.status ? before.lastTransitionTime : undefined;
  return { ...next, lastTransitionTime: kept ?? now };
}
