// File access for the CLI: every failure is a one-line RnnxError, and nothing is overwritten unasked.
import * as fs from 'node:fs';
import { RnnxError } from '../ir/errors.js';

/** Reads a regular file (a FIFO or device would block or never end). */
export function readInputFile(file: string, what = 'file'): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new RnnxError(`cannot read ${what} '${file}': ${reason(e)}`);
  }
  if (st.isDirectory()) throw new RnnxError(`${what} '${file}' is a directory`);
  if (!st.isFile()) throw new RnnxError(`${what} '${file}' is not a regular file`);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new RnnxError(`cannot read ${what} '${file}': ${reason(e)}`);
  }
}

/** Refuses a directory, and an existing file unless `force`. */
export function checkWritable(file: string, option: string, force: boolean): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) throw new RnnxError(`${option} '${file}' is a directory; give a file name`);
  if (!force) throw new RnnxError(`${option} '${file}' already exists (pass --force to overwrite it)`);
  if (!st.isFile()) throw new RnnxError(`${option} '${file}' is not a regular file`);
}

export function writeOutputFile(file: string, bytes: Uint8Array | string, option: string, force: boolean): void {
  checkWritable(file, option, force);
  try {
    fs.writeFileSync(file, bytes, { flag: force ? 'w' : 'wx' });
  } catch (e) {
    throw new RnnxError(`cannot write ${option} '${file}': ${reason(e)}`);
  }
}

/** An output folder: made if missing; an existing non-directory is refused. */
export function ensureOutputDir(dir: string, option: string): void {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new RnnxError(`${option} '${dir}' exists and is not a directory`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new RnnxError(`cannot create ${option} '${dir}': ${reason(e)}`);
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return String(err.message ?? e).split('\n')[0];
}
