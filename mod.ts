// etcd-operator: command line entry point. Parses the command and hands over; holds no logic.
import { runObjectCommand } from "./objectstore/cli.ts";

const usage = `usage: etcd-operator <command> [options]

commands:
  run                      run the operator (see --help of run)
  object put <url> [--file PATH]
  object get <url> [--file PATH] [--sha256 HEX]
                           copy a file to or from s3:// or gs:// (used by restore pods)
`;

async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "object":
      return await runObjectCommand(rest);
    case "run": {
      const { runOperator } = await import("./operator/run.ts");
      return await runOperator(rest);
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return command === undefined ? 2 : 0;
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n\n${usage}`);
      return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
