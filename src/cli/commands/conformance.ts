import * as fs from 'node:fs';
import * as path from 'node:path';
import { RnnxError } from '../../ir/errors.js';
import { runNodeTest, type NodeTestResult } from '../../runtime/node-test.js';
import type { Command } from '../args.js';
import { writeOutputFile } from '../files.js';

function collectTestDirs(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new RnnxError(`'${d}' is not a directory`);
    if (fs.existsSync(path.join(d, 'model.onnx'))) out.push(d);
    else {
      for (const e of fs.readdirSync(d).sort()) {
        const sub = path.join(d, e);
        if (fs.existsSync(path.join(sub, 'model.onnx'))) out.push(sub);
      }
    }
  }
  return out;
}

export const conformanceCommand: Command = {
  name: 'conformance',
  usage: 'DIR... [--json FILE]',
  summary: 'Runs ONNX backend-style test folders (model.onnx, test_data_set_*/input_N.pb, output_N.pb).',
  description: `A DIR holding such folders runs each. A test passes only when every output it declares has an
output_N.pb and matches it; a folder with no test data fails. Exit status 1 if any test failed.`,
  positionals: { min: 1, max: Infinity, name: 'DIR' },
  options: {
    json: { type: 'string', value: 'FILE', help: 'also write the results as JSON to FILE' },
    force: { type: 'boolean', help: 'overwrite an existing --json FILE' },
  },
  run(a) {
    const results: NodeTestResult[] = [];
    for (const dir of collectTestDirs(a.positionals)) {
      const r = runNodeTest(dir);
      results.push(r);
      const tag = r.status === 'passed' ? 'PASS' : r.status === 'failed' ? 'FAIL' : 'SKIP';
      console.log(`${tag} ${r.name}${r.detail ? `: ${r.detail}` : ''}`);
    }
    const passed = results.filter((r) => r.status === 'passed').length;
    const failed = results.filter((r) => r.status === 'failed').length;
    const skipped = results.length - passed - failed;
    console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
    const json = a.str('json');
    if (json) writeOutputFile(json, JSON.stringify({ passed, failed, skipped, results }, null, 1), '--json', a.flag('force'));
    return failed > 0 ? 1 : 0;
  },
};
