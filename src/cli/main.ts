// rnnx's command line: a table of subcommands (src/cli/commands/*), each parsed with node:util parseArgs.
import * as fs from 'node:fs';
import { RnnxError } from '../ir/errors.js';
import { commandHelp, parseCommandArgs, UsageError, type Command } from './args.js';
import { conformanceCommand } from './commands/conformance.js';
import { demoCommand } from './commands/demo.js';
import { exportWeightsCommand } from './commands/export-weights.js';
import { fromTorchCommand } from './commands/from-torch.js';
import { inspectCommand } from './commands/inspect.js';
import { runCommand } from './commands/run.js';
import { streamCommand } from './commands/stream.js';

export { randomFeed } from './common.js';

/** Every subcommand; adding one is a file under commands/ and a line here. */
export const COMMANDS: readonly Command[] = [
  runCommand,
  streamCommand,
  inspectCommand,
  conformanceCommand,
  exportWeightsCommand,
  fromTorchCommand,
  demoCommand,
];

/** Exit status of an error that is rnnx's own bug rather than the input's (EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;

export function version(): string {
  try {
    // dist/cli/main.js and src/cli/main.ts both sit two folders below package.json
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function globalHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'rnnx — run ONNX models (recurrent networks first) with TypeScript and WebAssembly kernels',
    '',
    'Usage: rnnx COMMAND [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    '',
    '`rnnx COMMAND --help` lists the options of a command. `rnnx --version` prints the version.',
    'Exit status: 0 success, 1 a check or test that failed, 2 a bad command line or bad input, 70 an internal error.',
  ].join('\n');
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, '; ');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      console.error(globalHelp());
      return 2;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      const c = rest[0] !== undefined ? COMMANDS.find((k) => k.name === rest[0]) : undefined;
      if (rest[0] !== undefined && !c) throw new UsageError(`unknown command '${rest[0]}' (see rnnx --help)`);
      console.log(c ? commandHelp(c) : globalHelp());
      return 0;
    }
    if (name === '--version' || name === '-v' || name === '-V') {
      console.log(`rnnx ${version()}`);
      return 0;
    }
    const c = COMMANDS.find((k) => k.name === name);
    if (!c) throw new UsageError(`unknown ${name.startsWith('-') ? 'option' : 'command'} '${name}' (commands: ${COMMANDS.map((k) => k.name).join(', ')}; see rnnx --help)`);
    const args = parseCommandArgs(c, rest);
    if (!args) return 0;
    return await c.run(args);
  } catch (e) {
    if (process.env.RNNX_DEBUG) console.error(e);
    if (e instanceof RnnxError) {
      console.error(`rnnx: ${oneLine(e.message)}`);
      return 2;
    }
    const err = e as Error;
    console.error(`rnnx: internal error: ${oneLine(String(err?.message ?? e))} (please report it; RNNX_DEBUG=1 prints the stack)`);
    return EXIT_INTERNAL;
  }
}
