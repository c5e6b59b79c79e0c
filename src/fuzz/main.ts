// `npm run fuzz -- [--minutes N | --count N] [--seed S] [--diff] [--out DIR]`
// A parent process runs the mutants in a child process (restarted after each death), so a hang
// (no answer for 20 s), a memory blow-up (RSS over 4 GiB) or a fatal abort is caught and counted;
// the reproducing model of every crash, hang, blow-up and differential mismatch is saved.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fixtureModels, mutantOf, runDifferential, runRnnx, writeMutant, type Result } from './campaign.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HANG_MS = 20_000;
/** A reported hang is run again alone with this long to answer before it counts. */
const RECHECK_MS = 60_000;
const RSS_LIMIT = 4 * 2 ** 30;

/** `ort`: rnnx finished this mutant and onnxruntime runs it now (a death then is onnxruntime's). */
interface Msg { start?: number; ort?: number; result?: Result }

async function child(seed: number, start: number, diff: boolean, work: string, stop: number): Promise<void> {
  const fixtures = fixtureModels(root);
  for (let i = start; i < stop; i++) {
    process.send!({ start: i });
    const dir = path.join(work, String(i));
    const file = writeMutant(dir, mutantOf(fixtures, seed, i));
    const r = runRnnx(file);
    let result: Result = { index: i, ...r.result };
    if (diff && r.result.outcome === 'ok' && r.feeds && r.outputs) {
      await new Promise<void>((res) => process.send!({ ort: i } satisfies Msg, () => res()));
      result = { index: i, ...(await runDifferential(file, r.feeds, r.outputs)) };
    }
    fs.rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((res) => process.send!({ result } satisfies Msg, () => res()));
  }
}

function rss(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}

const USAGE = 'usage: npm run fuzz -- [--minutes N | --count N] [--seed S] [--diff] [--out DIR]';

/** A non-negative number from option `name`, or a usage error. */
function numberOption(name: string, v: string | undefined, dflt: number, integer: boolean): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, got '${v}'`);
  return n;
}
class UsageError extends Error {}

async function parent(): Promise<number> {
  let values: { minutes?: string; count?: string; seed?: string; diff?: boolean; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { minutes: { type: 'string' }, count: { type: 'string' }, seed: { type: 'string' }, diff: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true, allowPositionals: false,
    }));
  } catch (e) {
    console.error(`rnnx fuzz: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let minutes: number, count: number, seed: number;
  try {
    minutes = numberOption('minutes', values.minutes, values.count ? Infinity : 1, false);
    count = numberOption('count', values.count, Infinity, true);
    seed = numberOption('seed', values.seed, Date.now() % 1e6, true);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`rnnx fuzz: ${e.message}\n${USAGE}`);
    return 2;
  }
  const out = path.resolve(values.out ?? 'fuzz-out');
  const work = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'rnnx-fuzz-'));
  const fixtures = fixtureModels(root);
  const deadline = Date.now() + minutes * 60_000;
  const results: Result[] = [];
  const saved: string[] = [];
  const save = (r: Result) => {
    const dir = path.join(out, `${r.outcome}-${seed}-${r.index}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'result.txt'), `${r.outcome}\n${r.kind ?? ''}\n${r.detail ?? ''}\n`);
    try {
      writeMutant(dir, mutantOf(fixtures, seed, r.index));
    } catch (e) {
      // the mutator itself failed: the result says so, and seed + index reproduce it
      fs.appendFileSync(path.join(dir, 'result.txt'), `mutator: ${(e as Error).stack}\n`);
    }
    saved.push(dir);
  };
  console.log(`fuzzing ${fixtures.length} fixtures, seed ${seed}${values.diff ? ', differential against onnxruntime-node' : ''}, ${Number.isFinite(minutes) ? `${minutes} min` : `${count} mutants`}`);
  /** Runs mutants from `start` (up to `stop`) in a child until it ends; reports how it ended. */
  const runChild = async (start: number, stop: number, diff: boolean, hangMs: number, onResult: (r: Result) => void) => {
    const c: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child', String(seed), String(start), diff ? '1' : '0', work, String(stop)], {
      execArgv: ['--max-old-space-size=3072'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    c.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
    let current = start, inOrt = false, last = Date.now(), killedFor: 'hang' | 'memory' | 'deadline' | undefined;
    const poll = setInterval(() => {
      if (Date.now() - last > hangMs) { killedFor = 'hang'; c.kill('SIGKILL'); }
      else if (rss(c.pid!) > RSS_LIMIT) { killedFor = 'memory'; c.kill('SIGKILL'); }
      else if (Date.now() >= deadline || results.length >= count) { killedFor = 'deadline'; c.kill('SIGKILL'); }
    }, 250);
    c.on('message', (m: Msg) => {
      last = Date.now();
      if (m.start !== undefined) { current = m.start; inOrt = false; }
      if (m.ort !== undefined) inOrt = true;
      if (m.result) { inOrt = false; onResult(m.result); }
    });
    const code = await new Promise<number | null>((res) => c.on('exit', (code) => res(code)));
    clearInterval(poll);
    return { current, inOrt, killedFor, code, stderr: stderr.split('\n').filter(Boolean).slice(-3).join(' | ') };
  };
  const record = (r: Result) => {
    results.push(r);
    if (!['ok', 'error', 'skip', 'diff-agree', 'diff-ort-refused'].includes(r.outcome)) save(r);
    if (results.length % 500 === 0) console.log(`  ${results.length} mutants`);
  };
  let next = 0;
  while (Date.now() < deadline && next < count) {
    const end = await runChild(next, Infinity, !!values.diff, HANG_MS, record);
    if (end.killedFor === 'deadline' || Date.now() >= deadline || results.length >= count) break;
    let r: Result;
    if (end.inOrt) {
      // rnnx had finished this mutant: onnxruntime died or hung on it (it aborts on some invalid models)
      r = { index: end.current, outcome: 'diff-ort-died', detail: `onnxruntime ${end.killedFor === 'hang' ? `gave no answer in ${HANG_MS / 1000} s` : `died (exit ${end.code}): ${end.stderr}`}` };
    } else if (end.killedFor === 'hang') {
      // Two cores shared by many processes can stall a child: a hang counts only if the mutant,
      // run again alone in rnnx, still gives no answer in three times the time.
      const t0 = Date.now();
      let answered: Result | undefined;
      const again = await runChild(end.current, end.current + 1, false, RECHECK_MS, (x) => { answered = x; });
      if (again.killedFor === 'deadline') break;
      r = answered
        ? { index: end.current, outcome: 'slow', detail: `no answer in ${HANG_MS / 1000} s, then ${answered.outcome} in ${((Date.now() - t0) / 1000).toFixed(1)} s when run again alone` }
        : again.killedFor === 'hang' ? { index: end.current, outcome: 'hang', detail: `no answer in ${HANG_MS / 1000} s, nor in ${RECHECK_MS / 1000} s when run again alone` }
        : { index: end.current, outcome: again.killedFor === 'memory' ? 'memory' : 'died', detail: `no answer in ${HANG_MS / 1000} s; run again alone: ${again.killedFor ?? `exit ${again.code}: ${again.stderr}`}` };
    } else r = { index: end.current, outcome: end.killedFor ?? 'died', detail: end.killedFor ? undefined : `exit ${end.code}: ${end.stderr}` };
    record(r);
    next = end.current + 1;
  }
  fs.rmSync(work, { recursive: true, force: true });
  const by = (f: (r: Result) => string | undefined) => {
    const m = new Map<string, number>();
    for (const r of results) { const k = f(r); if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1); }
    return [...m].sort((a, b) => b[1] - a[1]);
  };
  console.log(`\n${results.length} mutants (seed ${seed})`);
  for (const [k, n] of by((r) => r.outcome)) console.log(`  ${k}: ${n}`);
  console.log('errors by kind (top 30):');
  for (const [k, n] of by((r) => (r.outcome === 'error' ? r.kind : undefined)).slice(0, 30)) console.log(`  ${String(n).padStart(5)}  ${k}`);
  const bad = results.filter((r) => ['crash', 'hang', 'memory', 'died'].includes(r.outcome));
  console.log(`crashes ${results.filter((r) => r.outcome === 'crash' || r.outcome === 'died').length}, hangs ${results.filter((r) => r.outcome === 'hang').length}, memory blow-ups ${results.filter((r) => r.outcome === 'memory').length}`);
  for (const r of bad.slice(0, 20)) console.log(`  #${r.index} ${r.outcome}: ${r.kind ?? ''} ${(r.detail ?? '').split('\n')[0]}`);
  for (const r of results.filter((x) => ['slow', 'diff-mismatch', 'diff-ort-float32', 'diff-ort-died'].includes(x.outcome)).slice(0, 30)) {
    console.log(`  #${r.index} ${r.outcome}: ${(r.detail ?? '').split('\n')[0].slice(0, 200)}`);
  }
  if (saved.length) console.log(`reproducers saved in ${out} (${saved.length})`);
  return bad.length > 0 ? 1 : 0;
}

if (process.argv[2] === '--child') {
  const [, , , seed, start, diff, work, stop] = process.argv;
  await child(Number(seed), Number(start), diff === '1', work, Number(stop));
} else {
  process.exitCode = await parent();
}
