// Stopping a child process as a service manager would: SIGTERM, then SIGKILL if it lingers.

/** Sends SIGTERM, and SIGKILL after `graceMs` if the child has not exited; resolves once it has. */
export async function terminate(child: Deno.ChildProcess, graceMs = 15_000): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already exited */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited meanwhile */ }
  }, graceMs);
  await child.status;
  clearTimeout(timer);
}
