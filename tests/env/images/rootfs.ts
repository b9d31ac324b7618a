// Fills a staged root filesystem: binaries with their shared libraries, busybox, users, directories.
import { dirname, join } from "node:path";
import { run } from "../processes.ts";

const busyboxOnHost = "/usr/bin/busybox"; // Debian's busybox-static: no libraries needed

/** Copies a host file (following symlinks) to `target`, an absolute path inside `root`. */
export async function addFile(root: string, source: string, target: string): Promise<void> {
  const destination = join(root, target);
  await Deno.mkdir(dirname(destination), { recursive: true });
  await Deno.copyFile(source, destination);
}

export async function addText(
  root: string,
  target: string,
  text: string,
  mode = 0o644,
): Promise<void> {
  const destination = join(root, target);
  await Deno.mkdir(dirname(destination), { recursive: true });
  await Deno.writeTextFile(destination, text);
  await Deno.chmod(destination, mode);
}

/** Creates directories with an explicit mode, so the host's umask cannot change a layer. */
export async function addDirectories(
  root: string,
  directories: readonly { readonly path: string; readonly mode: number }[],
): Promise<void> {
  for (const { path, mode } of directories) {
    await Deno.mkdir(join(root, path), { recursive: true });
    await Deno.chmod(join(root, path), mode);
  }
}

/** The usual directories of a small image; /tmp is world-writable and sticky. */
export const baseDirectories = [
  { path: "/tmp", mode: 0o1777 },
  { path: "/etc", mode: 0o755 },
] as const;

/** The shared libraries and loader a dynamically linked binary needs, as `ldd` lists them. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run("ldd", [binary]);
  if (stdout.includes("not found")) throw new Error(`${binary} misses libraries:\n${stdout}`);
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)";
  // the vDSO line has no path because the kernel provides it.
  return [...stdout.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map((match) => match[1]);
}

/** Copies a dynamically linked binary and, at the same paths as on the host, what it links. */
export async function addDynamicBinary(
  root: string,
  source: string,
  target: string,
): Promise<void> {
  await addFile(root, source, target);
  for (const library of await sharedLibraries(source)) await addFile(root, library, library);
}

/** Installs busybox as /bin/busybox with a symlink for each applet (sh, wget, nslookup, …). */
export async function addBusybox(root: string): Promise<void> {
  await addFile(root, busyboxOnHost, "/bin/busybox");
  const { stdout } = await run(busyboxOnHost, ["--list-full"]);
  for (const applet of stdout.split("\n").filter((line) => line !== "")) {
    const link = join(root, applet);
    // Never shadow a real binary of the image (etcdctl, …) with an applet of the same name.
    if (await exists(link)) continue;
    await Deno.mkdir(dirname(link), { recursive: true });
    await Deno.symlink("/bin/busybox", link);
  }
}

/** Name lookups try /etc/hosts (which the kubelet writes) before DNS, as Debian and distroless do. */
export function addNsswitch(root: string): Promise<void> {
  return addText(root, "/etc/nsswitch.conf", "hosts: files dns\n");
}

export interface User {
  readonly name: string;
  readonly id: number;
  readonly home: string;
  readonly shell: string;
}

export const root: User = { name: "root", id: 0, home: "/root", shell: "/bin/sh" };
/** The distroless images' unprivileged user. */
export const nonroot: User = {
  name: "nonroot",
  id: 65532,
  home: "/home/nonroot",
  shell: "/sbin/nologin",
};

/** Writes /etc/passwd and /etc/group with one group per user, named and numbered like it. */
export async function addUsers(rootfs: string, users: readonly User[]): Promise<void> {
  const passwd = users.map((user) =>
    `${user.name}:x:${user.id}:${user.id}:${user.name}:${user.home}:${user.shell}\n`
  );
  const group = users.map((user) => `${user.name}:x:${user.id}:\n`);
  await addText(rootfs, "/etc/passwd", passwd.join(""));
  await addText(rootfs, "/etc/group", group.join(""));
  const homes = users.map((user) => ({ path: user.home, mode: user.id === 0 ? 0o700 : 0o755 }));
  await addDirectories(rootfs, homes);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
