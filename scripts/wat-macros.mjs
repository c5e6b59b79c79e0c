// Expands the activation macros of src/wasm/kernels.wat into plain WAT before wabt assembles it.
// V8 does not inline small wasm functions, and a call per f32x4 activation cost more than the
// arithmetic (measured: LSTM cell 6.0 µs → 2.3 µs per H=512 step once inlined), so the kernels
// write activations as macros:
//   (@tanh4 $r EXPR)      sets local $r to tanh(EXPR), lane-wise
//   (@sigmoid4 $r EXPR)   sets local $r to σ(EXPR) = 1 / (1 + e^−EXPR), relatively precise (see sigmoid4)
//   (@exp4 $r EXPR)       sets local $r to e^EXPR (see exp4 below)
//   (@act-locals $r ...)  declares $r and its scratch locals $r.x $r.y $r.p $r.q (all v128)
//   (@gemm-tile $name R)  a whole GEMM tile function of R rows × 8 columns (see gemmTile)
//   (@log4 $r EXPR)       sets local $r to ln(EXPR), lane-wise (see log4)
//   (@map4 STMT ...)      a loop y[i..i+3] = $t over x[i..i+3] from $x to $end, two vectors a step (see map4)
//   (@binop-rows $name OP) the row-broadcast kernels of one binary op (see binopRows)
// tanh is the clamped odd rational function of degree 13/6 that Eigen and MLAS use. The clamp is
// f32x4.pmin/pmax (one minps/maxps each on x86; f32x4.min/max expand to NaN-fixing sequences),
// with x first so that a NaN input stays NaN.

const P = ['-2.76076847742355e-16', '2.00018790482477e-13', '-8.60467152213735e-11', '5.12229709037114e-08',
  '1.48572235717979e-05', '6.37261928875436e-04', '4.89352455891786e-03'];
const Q = ['1.19825839466702e-06', '1.18534705686654e-04', '2.26843463243900e-03', '4.89352518554385e-03'];
const splat = (v) => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;

function tanh4(r, x) {
  const g = (s) => `(local.get ${r}.${s})`;
  const out = [`(local.set ${r}.x (f32x4.pmin (f32x4.pmax ${x} ${splat('-9')}) ${splat('9')}))`,
    `(local.set ${r}.y (f32x4.mul ${g('x')} ${g('x')}))`, `(local.set ${r}.p ${splat(P[0])})`];
  for (const c of P.slice(1)) out.push(`(local.set ${r}.p (f32x4.add (f32x4.mul ${g('p')} ${g('y')}) ${splat(c)}))`);
  out.push(`(local.set ${r}.p (f32x4.mul ${g('p')} ${g('x')}))`, `(local.set ${r}.q ${splat(Q[0])})`);
  for (const c of Q.slice(1)) out.push(`(local.set ${r}.q (f32x4.add (f32x4.mul ${g('q')} ${g('y')}) ${splat(c)}))`);
  out.push(`(local.set ${r} (f32x4.div ${g('p')} ${g('q')}))`);
  return out;
}

// e^x: x clamped to [-87.3, 88.7], n = round(x·log2 e) by adding 1.5·2²³ (whose low mantissa
// bits then hold n, so 2ⁿ is those bits plus 127 shifted into the exponent: no float → int
// conversion, which V8 expands to a saturating sequence), r = x − n·ln 2 in two parts, and
// Cephes' degree-6 polynomial for e^r.
const EXP_P = ['1.9875691500e-4', '1.3981999507e-3', '8.3334519073e-3', '4.1665795894e-2', '1.6666665459e-1', '5.0000001201e-1'];
function exp4(r, x) {
  return [...exp4Parts(r, x), `(local.set ${r} (f32x4.mul (local.get ${r}.p) (local.get ${r}.q)))`];
}

/** exp4 up to its last step: e^x is then p·q (in $r.p and $r.q); $r itself is not touched. */
function exp4Parts(r, x) {
  const g = (s) => `(local.get ${r}.${s})`;
  const out = [`(local.set ${r}.x (f32x4.pmin (f32x4.pmax ${x} ${splat('-87.3')}) ${splat('88.7')}))`,
    `(local.set ${r}.q (f32x4.add (f32x4.mul ${g('x')} ${splat('1.44269504088896341')}) ${splat('12582912')}))`,
    `(local.set ${r}.y (f32x4.sub ${g('q')} ${splat('12582912')}))`,
    `(local.set ${r}.q (i32x4.shl (i32x4.add ${g('q')} (v128.const i32x4 127 127 127 127)) (i32.const 23)))`,
    `(local.set ${r}.x (f32x4.sub ${g('x')} (f32x4.mul ${g('y')} ${splat('0.693359375')})))`,
    `(local.set ${r}.x (f32x4.add ${g('x')} (f32x4.mul ${g('y')} ${splat('2.12194440e-4')})))`,
    `(local.set ${r}.p ${splat(EXP_P[0])})`];
  for (const c of EXP_P.slice(1)) out.push(`(local.set ${r}.p (f32x4.add (f32x4.mul ${g('p')} ${g('x')}) ${splat(c)}))`);
  out.push(`(local.set ${r}.p (f32x4.add (f32x4.add (f32x4.mul ${g('p')} (f32x4.mul ${g('x')} ${g('x')})) ${g('x')}) ${splat('1')}))`);
  return out;
}

// σ(x) with relative precision on both sides: e = e^−|x|, s = 1/(1 + e), σ = s for x ≥ 0 and e·s
// for x < 0. (0.5 + 0.5·tanh(x/2) loses σ's small values to cancellation: it is 0 below -18 and
// 3 % off at -15, which a gate multiplying a state of 1e7 turns into a wrong number.) Below -87.3,
// where e^−|x| is clamped, σ < 1.2e-38 is flushed to 0, so σ(−∞) = 0 and σ(+∞) = 1 exactly; a
// NaN stays NaN. $r holds x until the last step.
function sigmoid4(r, x) {
  const g = (s) => `(local.get ${r}.${s})`;
  return [`(local.set ${r} ${x})`, ...exp4Parts(r, `(f32x4.neg (f32x4.abs (local.get ${r})))`),
    `(local.set ${r}.p (f32x4.mul ${g('p')} ${g('q')}))`,
    `(local.set ${r}.q (f32x4.div ${splat('1')} (f32x4.add ${splat('1')} ${g('p')})))`,
    `(local.set ${r} (v128.andnot (v128.bitselect ${g('q')} (f32x4.mul ${g('p')} ${g('q')}) (f32x4.ge (local.get ${r}) ${splat('0')})) (f32x4.lt (local.get ${r}) ${splat('-87.3')})))`];
}

// An R-row × 8-column GEMM tile over one panel: C[R, 8] (+)= A[R, K]·B[K, 8], B's rows `bk` bytes
// apart (32 in a packed panel, 4·ldb in a row-major matrix). The R·2 accumulators
// start from C (accumulating) or 0 and are only stored after the k loop: reading C after the loop
// made V8 spill the accumulators inside it (2× slower). Each C element is summed over k in order.
function gemmTile(name, rowsText) {
  const R = Number(rowsText);
  if (!Number.isInteger(R) || R < 1) throw new Error(`@gemm-tile: bad row count ${rowsText}`);
  const rows = [...Array(R).keys()];
  const get = (v) => `(local.get $${v})`;
  const out = [`(func ${name} (param $a i32) (param $lda i32) (param $b i32) (param $bk i32) (param $K i32) (param $c i32) (param $ldc i32) (param $accum i32)`,
    '(local $k i32) (local $b0 v128) (local $b1 v128) (local $x v128) (local $ldab i32) (local $ldcb i32) (local $cc i32)',
    rows.map((r) => `(local $a${r} i32)`).join(' '),
    rows.map((r) => `(local $c${r}0 v128) (local $c${r}1 v128)`).join(' '),
    `(local.set $ldab (i32.shl ${get('lda')} (i32.const 2)))`,
    `(local.set $ldcb (i32.shl ${get('ldc')} (i32.const 2)))`,
    `(local.set $a0 ${get('a')})`,
    ...rows.slice(1).map((r) => `(local.set $a${r} (i32.add ${get(`a${r - 1}`)} ${get('ldab')}))`),
    `(if ${get('accum')} (then (local.set $cc ${get('c')})`,
    ...rows.map((r) => `(local.set $c${r}0 (v128.load ${get('cc')})) (local.set $c${r}1 (v128.load offset=16 ${get('cc')}))`
      + (r < R - 1 ? ` (local.set $cc (i32.add ${get('cc')} ${get('ldcb')}))` : '')),
    '))',
    `(local.set $k ${get('K')})`,
    '(block $done (loop $kl',
    `(br_if $done (i32.eqz ${get('k')}))`,
    `(local.set $b0 (v128.load ${get('b')}))`,
    `(local.set $b1 (v128.load offset=16 ${get('b')}))`,
    ...rows.flatMap((r) => [`(local.set $x (v128.load32_splat ${get(`a${r}`)}))`,
      `(local.set $c${r}0 (f32x4.add ${get(`c${r}0`)} (f32x4.mul ${get('x')} ${get('b0')})))`,
      `(local.set $c${r}1 (f32x4.add ${get(`c${r}1`)} (f32x4.mul ${get('x')} ${get('b1')})))`]),
    `(local.set $b (i32.add ${get('b')} ${get('bk')}))`,
    ...rows.map((r) => `(local.set $a${r} (i32.add ${get(`a${r}`)} (i32.const 4)))`),
    `(local.set $k (i32.sub ${get('k')} (i32.const 1)))`,
    '(br $kl)))',
    ...rows.map((r) => `(v128.store ${get('c')} ${get(`c${r}0`)}) (v128.store offset=16 ${get('c')} ${get(`c${r}1`)})`
      + (r < R - 1 ? ` (local.set $c (i32.add ${get('c')} ${get('ldcb')}))` : '')),
    ')'];
  return out;
}

// ln x: x = m·2^e with m in [√½, √2), then Cephes' logf polynomial in m − 1, and e·ln 2 added in
// two parts (about 1 ulp). Denormals are scaled by 2²³ first. ln 0 = −∞, ln x<0 = NaN, ln +∞ = +∞
// and a NaN stays NaN: lanes outside (0, +∞) take those values instead of the polynomial.
const LOG_P = ['7.0376836292e-2', '-1.1514610310e-1', '1.1676998740e-1', '-1.2420140846e-1', '1.4249322787e-1',
  '-1.6668057665e-1', '2.0000714765e-1', '-2.4999993993e-1', '3.3333331174e-1'];
function log4(r, x) {
  const g = (s) => `(local.get ${r}${s ? '.' + s : ''})`;
  const isplat = (v) => `(v128.const i32x4 ${v} ${v} ${v} ${v})`;
  const out = [`(local.set ${r}.x ${x})`,
    // y: lanes below the smallest normal (denormals; negatives and 0 too, replaced at the end)
    `(local.set ${r}.y (f32x4.lt ${g('x')} ${splat('1.17549435e-38')}))`,
    `(local.set ${r}.p (v128.bitselect (f32x4.mul ${g('x')} ${splat('8388608')}) ${g('x')} ${g('y')}))`,
    // e such that x = m·2^e with m in [0.5, 1)
    `(local.set ${r}.q (i32x4.sub (i32x4.shr_u ${g('p')} (i32.const 23)) (v128.bitselect ${isplat(149)} ${isplat(126)} ${g('y')})))`,
    `(local.set ${r}.p (v128.or (v128.and ${g('p')} ${isplat('0x007fffff')}) ${isplat('0x3f000000')}))`,
    // m < √½: e − 1 and 2m − 1, else m − 1 (the mask is −1 in the lanes where it holds)
    `(local.set ${r}.y (f32x4.lt ${g('p')} ${splat('0.707106781186547524')}))`,
    `(local.set ${r}.q (f32x4.convert_i32x4_s (i32x4.add ${g('q')} ${g('y')})))`,
    `(local.set ${r}.p (f32x4.sub (f32x4.add ${g('p')} (v128.and ${g('p')} ${g('y')})) ${splat('1')}))`,
    `(local.set ${r}.y (f32x4.mul ${g('p')} ${g('p')}))`,
    `(local.set ${r} ${splat(LOG_P[0])})`];
  for (const c of LOG_P.slice(1)) out.push(`(local.set ${r} (f32x4.add (f32x4.mul ${g('')} ${g('p')}) ${splat(c)}))`);
  out.push(`(local.set ${r} (f32x4.mul (f32x4.mul ${g('')} ${g('p')}) ${g('y')}))`,
    `(local.set ${r} (f32x4.add ${g('')} (f32x4.mul ${g('q')} ${splat('-2.12194440e-4')})))`,
    `(local.set ${r} (f32x4.sub ${g('')} (f32x4.mul ${g('y')} ${splat('0.5')})))`,
    `(local.set ${r} (f32x4.add (f32x4.add ${g('p')} ${g('')}) (f32x4.mul ${g('q')} ${splat('0.693359375')})))`,
    // outside (0, +∞): 0 → −∞, negative → NaN, +∞ and NaN → themselves
    `(local.set ${r}.y (v128.bitselect ${splat('-inf')} (v128.bitselect ${splat('nan')} ${g('x')} (f32x4.lt ${g('x')} ${splat('0')})) (f32x4.eq ${g('x')} ${splat('0')})))`,
    `(local.set ${r} (v128.bitselect ${g('')} ${g('y')} (v128.and (f32x4.gt ${g('x')} ${splat('0')}) (f32x4.lt ${g('x')} ${splat('inf')}))))`);
  return out;
}

// A loop over whole vectors, two at a time (two independent chains: measured 1.3–1.7× faster
// on σ, tanh and exp than one): $v = x[i..i+3] and $w = x[i+4..i+7]; STMTs set $t from $v, and
// the same STMTs with $t $v $m renamed $u $w $m2 set $u from $w; y[i..i+7] = $t, $u; from $x up to
// $end, then return. Callers round n up to a multiple of 4 and leave one spare vector after x and
// y (so the last pair may read and write it). Needs locals $x $y $end (i32) and $v $w $m $m2
// (v128), with (@act-locals $t $u).
let mapCount = 0;
function map4(stmts) {
  const k = mapCount++;
  const twin = stmts.map((st) => st.replace(/\$(t|v|m)(?![\w$])/g, (_, c) => ({ t: '$u', v: '$w', m: '$m2' })[c]));
  return [`(block $map${k}d (loop $map${k}l`,
    `(br_if $map${k}d (i32.ge_u (local.get $x) (local.get $end)))`,
    '(local.set $v (v128.load (local.get $x)))',
    '(local.set $w (v128.load offset=16 (local.get $x)))',
    ...stmts, ...twin,
    '(v128.store (local.get $y) (local.get $t))',
    '(v128.store offset=16 (local.get $y) (local.get $u))',
    '(local.set $x (i32.add (local.get $x) (i32.const 32)))',
    '(local.set $y (i32.add (local.get $y) (i32.const 32)))',
    `(br $map${k}l)))`, '(return)'];
}

// y = a OP b over `rows` rows of `len` floats: row r reads a from element oa[r] and b from ob[r]
// (i32 arrays), each running along (step 1) or repeating one element (step 0), and writes y's next
// len floats. Four functions $NAME_vv, $NAME_vs, $NAME_sv, $NAME_ss (v: runs, s: repeats), whole
// vectors and then a scalar tail per row, so rows of any length and offset need no padding and
// y may be a (row-aligned) copy of a or b.
// OP is an f32x4/f32 instruction name (add, sub, mul, div) or `prelu` (a < 0 ? b·a : a).
function binopRows(name, op) {
  const vec = (a, b) => (op === 'prelu' ? `(v128.bitselect (f32x4.mul ${b} ${a}) ${a} (f32x4.lt ${a} (v128.const f32x4 0 0 0 0)))` : `(f32x4.${op} ${a} ${b})`);
  const sca = (a, b) => (op === 'prelu' ? `(select (f32.mul ${b} ${a}) ${a} (f32.lt ${a} (f32.const 0)))` : `(f32.${op} ${a} ${b})`);
  const out = [];
  for (const [ka, kb] of [['v', 'v'], ['v', 's'], ['s', 'v'], ['s', 's']]) {
    const va = ka === 'v' ? '(v128.load (local.get $pa))' : '(local.get $sa)';
    const vb = kb === 'v' ? '(v128.load (local.get $pb))' : '(local.get $sb)';
    const fa = ka === 'v' ? '(f32.load (local.get $pa))' : '(f32.load (local.get $qa))';
    const fb = kb === 'v' ? '(f32.load (local.get $pb))' : '(f32.load (local.get $qb))';
    const step = (p, k) => (k === 'v' ? `(local.set ${p} (i32.add (local.get ${p}) (i32.const 16)))` : '');
    const step1 = (p, k) => (k === 'v' ? `(local.set ${p} (i32.add (local.get ${p}) (i32.const 4)))` : '');
    out.push(`(func ${name}_${ka}${kb} (param $a i32) (param $b i32) (param $y i32) (param $rows i32) (param $len i32) (param $oa i32) (param $ob i32)`,
      '(local $r i32) (local $pa i32) (local $pb i32) (local $qa i32) (local $qb i32) (local $end i32) (local $end4 i32) (local $sa v128) (local $sb v128)',
      '(local $xa v128) (local $xb v128) (local $fa f32) (local $fb f32)',
      '(block $dr (loop $lr',
      '(br_if $dr (i32.ge_u (local.get $r) (local.get $rows)))',
      '(local.set $pa (i32.add (local.get $a) (i32.shl (i32.load (i32.add (local.get $oa) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2))))',
      '(local.set $pb (i32.add (local.get $b) (i32.shl (i32.load (i32.add (local.get $ob) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2))))',
      '(local.set $qa (local.get $pa)) (local.set $qb (local.get $pb))',
      ka === 's' ? '(local.set $sa (v128.load32_splat (local.get $pa)))' : '',
      kb === 's' ? '(local.set $sb (v128.load32_splat (local.get $pb)))' : '',
      '(local.set $end (i32.add (local.get $y) (i32.shl (local.get $len) (i32.const 2))))',
      '(local.set $end4 (i32.add (local.get $y) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))',
      '(block $dv (loop $lv',
      '(br_if $dv (i32.ge_u (local.get $y) (local.get $end4)))',
      `(local.set $xa ${va}) (local.set $xb ${vb})`,
      `(v128.store (local.get $y) ${vec('(local.get $xa)', '(local.get $xb)')})`,
      step('$pa', ka), step('$pb', kb),
      '(local.set $y (i32.add (local.get $y) (i32.const 16)))',
      '(br $lv)))',
      '(block $dt (loop $lt',
      '(br_if $dt (i32.ge_u (local.get $y) (local.get $end)))',
      `(local.set $fa ${fa}) (local.set $fb ${fb})`,
      `(f32.store (local.get $y) ${sca('(local.get $fa)', '(local.get $fb)')})`,
      step1('$pa', ka), step1('$pb', kb),
      '(local.set $y (i32.add (local.get $y) (i32.const 4)))',
      '(br $lt)))',
      '(local.set $r (i32.add (local.get $r) (i32.const 1)))',
      '(br $lr)))',
      ')');
  }
  return out.filter((l) => l !== '');
}

const MACROS = {
  '@log4': ([r, ...x]) => log4(r, x.join(' ')),
  '@map4': (stmts) => map4(stmts),
  '@binop-rows': ([name, op]) => binopRows(name, op),
  '@gemm-tile': ([name, rows]) => gemmTile(name, rows),
  '@exp4': ([r, ...x]) => exp4(r, x.join(' ')),
  '@tanh4': ([r, ...x]) => tanh4(r, x.join(' ')),
  '@sigmoid4': ([r, ...x]) => sigmoid4(r, x.join(' ')),
  '@act-locals': (names) => names.flatMap((r) => ['', '.x', '.y', '.p', '.q'].map((s) => `(local ${r}${s} v128)`)),
};

/** Splits the inside of one s-expression into its top-level items (atoms or parenthesised). */
function items(text) {
  const out = [];
  let depth = 0, start = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (depth === 0 && /\s/.test(ch)) {
      if (start >= 0) out.push(text.slice(start, i));
      start = -1;
      continue;
    }
    if (start < 0) start = i;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
  }
  if (start >= 0) out.push(text.slice(start));
  return out;
}

export function expandMacros(source) {
  let out = source;
  for (;;) {
    // a macro starts its own line, so that comments may name macros
    const m = /^[ \t]*\((@[a-z0-9-]+)\s/m.exec(out);
    if (!m) return out;
    const [, name] = m;
    const start = out.indexOf('(', m.index);
    const line = out.slice(0, start).split('\n').length;
    const expand = MACROS[name];
    if (!expand) throw new Error(`kernels.wat:${line}: unknown macro ${name}`);
    let depth = 0, end = start;
    for (; end < out.length; end++) {
      if (out[end] === '(') depth++;
      else if (out[end] === ')' && --depth === 0) break;
    }
    if (depth !== 0) throw new Error(`kernels.wat:${line}: unbalanced ${name}`);
    const args = items(out.slice(start + 1 + name.length, end));
    if (args.length < (name === '@act-locals' || name === '@map4' ? 1 : 2) || ((name === '@gemm-tile' || name === '@binop-rows') && args.length !== 2)) throw new Error(`kernels.wat:${line}: ${name} needs more arguments`);
    out = out.slice(0, start) + expand(args).join('\n      ') + out.slice(end + 1);
  }
}
