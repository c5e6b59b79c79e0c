;; rnnx WebAssembly SIMD kernels (f32x4). Assembled by scripts/build-wasm.mjs with wabt.
;; All pointers are byte offsets into the exported memory; all sizes are element counts.
(module
  (import "env" "log" (func $log (param f64) (result f64)))
  (memory (export "memory") 1)

  ;; ---------------------------------------------------------------------------------------
  ;; gemm: C[M, Npad] (+)= A[M, K] · B[K, Npad], B packed in 8-column panels: panel p holds
  ;; B[k, 8p .. 8p+7] for k = 0..K-1 contiguously (K·8 floats). Rows of C are ldc floats apart,
  ;; rows of A lda floats apart. 5×8 and 4×8 register tiles; leftover rows go through $row1. Every
  ;; tile starts C[m, n] from the old C[m, n] (when accumulating) or 0 and adds A[m, k]·B[k, n] for
  ;; k in order, so a row's result does not depend on M, on the tile that computed it, or on the
  ;; panel order.
  ;; ---------------------------------------------------------------------------------------
  (func (export "gemm")
    (param $a i32) (param $lda i32) (param $bp i32) (param $K i32) (param $npad i32)
    (param $c i32) (param $ldc i32) (param $M i32) (param $accum i32)
    (call $gemm_b (local.get $a) (local.get $lda) (local.get $bp) (i32.const 32) (i32.shl (local.get $K) (i32.const 5))
      (local.get $K) (local.get $npad) (local.get $c) (local.get $ldc) (local.get $M) (local.get $accum)))

  ;; gemm_rm: the same product with B an ordinary row-major matrix [K, ≥ npad] whose rows are ldb
  ;; floats apart (column block p is then B[k, 8p .. 8p+7], rows 4·ldb bytes apart). Columns past
  ;; B's own width read whatever follows the row: their results are garbage the caller ignores,
  ;; and the reads must stay inside memory (K·ldb + 8 floats from bp).
  (func (export "gemm_rm")
    (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32) (param $K i32) (param $npad i32)
    (param $c i32) (param $ldc i32) (param $M i32) (param $accum i32)
    (call $gemm_b (local.get $a) (local.get $lda) (local.get $b) (i32.shl (local.get $ldb) (i32.const 2)) (i32.const 32)
      (local.get $K) (local.get $npad) (local.get $c) (local.get $ldc) (local.get $M) (local.get $accum)))

  ;; Either layout of B: row k of column block p at bp + p·pbytes + k·bk (bytes).
  (func $gemm_b
    (param $a i32) (param $lda i32) (param $bp i32) (param $bk i32) (param $pbytes i32) (param $K i32) (param $npad i32)
    (param $c i32) (param $ldc i32) (param $M i32) (param $accum i32)
    (local $m i32) (local $p i32) (local $panels i32) (local $arow i32) (local $crow i32) (local $flip i32)
    (local $f i32) (local $r i32) (local $end5 i32) (local $end4 i32) (local $rows i32)
    (local.set $panels (i32.shr_u (local.get $npad) (i32.const 3)))
    ;; Row plan: f 5-row blocks, then 4-row blocks, then single rows. Each block streams all of
    ;; B once, so r ≥ 2 leftover rows are folded into 4-row blocks by turning 4 − r of the
    ;; 5-row blocks into 4-row ones (M = 8: two 4-row blocks rather than 5 + 3 single rows).
    (local.set $f (i32.div_u (local.get $M) (i32.const 5)))
    (local.set $r (i32.rem_u (local.get $M) (i32.const 5)))
    (local.set $end5 (i32.mul (local.get $f) (i32.const 5)))
    (local.set $end4 (local.get $end5))
    (if (i32.and (i32.ge_u (local.get $r) (i32.const 2)) (i32.ge_u (local.get $f) (i32.sub (i32.const 4) (local.get $r))))
      (then
        (local.set $end5 (i32.mul (i32.sub (local.get $f) (i32.sub (i32.const 4) (local.get $r))) (i32.const 5)))
        (local.set $end4 (local.get $M))))
    (local.set $m (i32.const 0))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $m) (local.get $end4)))
        (local.set $rows (select (i32.const 5) (i32.const 4) (i32.lt_u (local.get $m) (local.get $end5))))
        (local.set $arow (i32.add (local.get $a) (i32.shl (i32.mul (local.get $m) (local.get $lda)) (i32.const 2))))
        (local.set $crow (i32.add (local.get $c) (i32.shl (i32.mul (local.get $m) (local.get $ldc)) (i32.const 2))))
        (local.set $p (i32.const 0))
        (block $pd (loop $pl
          (br_if $pd (i32.ge_u (local.get $p) (local.get $panels)))
          (if (i32.eq (local.get $rows) (i32.const 5))
            (then (call $tile5x8 (local.get $arow) (local.get $lda)
              (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes)))
              (local.get $bk) (local.get $K)
              (i32.add (local.get $crow) (i32.shl (local.get $p) (i32.const 5)))
              (local.get $ldc) (local.get $accum)))
            (else (call $tile4x8 (local.get $arow) (local.get $lda)
              (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes)))
              (local.get $bk) (local.get $K)
              (i32.add (local.get $crow) (i32.shl (local.get $p) (i32.const 5)))
              (local.get $ldc) (local.get $accum))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $pl)))
        (local.set $m (i32.add (local.get $m) (local.get $rows)))
        (br $blocks)))
    ;; leftover rows (all rows at batch 1), one at a time; see $row1
    (local.set $flip (i32.xor (global.get $flip) (i32.const 1)))
    (global.set $flip (local.get $flip))
    (block $rows1_done
      (loop $rows1
        (br_if $rows1_done (i32.ge_s (local.get $m) (local.get $M)))
        (call $row1
          (i32.add (local.get $a) (i32.shl (i32.mul (local.get $m) (local.get $lda)) (i32.const 2)))
          (local.get $bp) (local.get $bk) (local.get $pbytes) (local.get $K) (local.get $panels)
          (i32.add (local.get $c) (i32.shl (i32.mul (local.get $m) (local.get $ldc)) (i32.const 2)))
          (local.get $accum) (local.get $flip))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $rows1))))

  ;; Alternates between calls: see $row1.
  (global $flip (mut i32) (i32.const 0))

  ;; One row of C against all panels: four panels per pass (four weight streams, eight
  ;; independent accumulators), leftover panels one at a time. With $reverse the panels are taken
  ;; last to first. gemm alternates the direction between calls, so a step's GEMV starts on the
  ;; weights the previous step read last, which are still in L2 (measured: ~6 % faster when the
  ;; weights exceed L2). Each output column is computed the same way in either order.
  (func $row1 (param $a i32) (param $bp i32) (param $bk i32) (param $pbytes i32) (param $K i32) (param $panels i32) (param $c i32) (param $accum i32) (param $reverse i32)
    (local $p i32) (local $quads i32)
    (local.set $quads (i32.shl (i32.shr_u (local.get $panels) (i32.const 2)) (i32.const 2)))
    (if (local.get $reverse)
      (then
        (local.set $p (local.get $panels))
        (block $d1 (loop $l1
          (br_if $d1 (i32.le_u (local.get $p) (local.get $quads)))
          (local.set $p (i32.sub (local.get $p) (i32.const 1)))
          (call $tile1x8 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes)))
            (local.get $bk) (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (br $l1)))
        (block $d4 (loop $l4
          (br_if $d4 (i32.eqz (local.get $p)))
          (local.set $p (i32.sub (local.get $p) (i32.const 4)))
          (call $tile1x32 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes))) (local.get $pbytes)
            (local.get $bk) (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (br $l4))))
      (else
        (block $d4 (loop $l4
          (br_if $d4 (i32.ge_u (local.get $p) (local.get $quads)))
          (call $tile1x32 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes))) (local.get $pbytes)
            (local.get $bk) (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br $l4)))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $p) (local.get $panels)))
          (call $tile1x8 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes)))
            (local.get $bk) (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $l1))))))

  ;; one row × four consecutive panels (32 columns), `pbytes` apart
  (func $tile1x32 (param $a i32) (param $b0 i32) (param $pbytes i32) (param $bk i32) (param $K i32) (param $c i32) (param $accum i32)
    (local $k i32) (local $x v128) (local $b1 i32) (local $b2 i32) (local $b3 i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s4 v128) (local $s5 v128) (local $s6 v128) (local $s7 v128)
    (local.set $b1 (i32.add (local.get $b0) (local.get $pbytes)))
    (local.set $b2 (i32.add (local.get $b1) (local.get $pbytes)))
    (local.set $b3 (i32.add (local.get $b2) (local.get $pbytes)))
    (if (local.get $accum) (then
      (local.set $s0 (v128.load offset=0 (local.get $c)))
      (local.set $s1 (v128.load offset=16 (local.get $c)))
      (local.set $s2 (v128.load offset=32 (local.get $c)))
      (local.set $s3 (v128.load offset=48 (local.get $c)))
      (local.set $s4 (v128.load offset=64 (local.get $c)))
      (local.set $s5 (v128.load offset=80 (local.get $c)))
      (local.set $s6 (v128.load offset=96 (local.get $c)))
      (local.set $s7 (v128.load offset=112 (local.get $c)))))
    (local.set $k (local.get $K))
    (block $d (loop $l
      (br_if $d (i32.eqz (local.get $k)))
      (local.set $x (v128.load32_splat (local.get $a)))
      (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x) (v128.load (local.get $b0)))))
      (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b0)))))
      (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $x) (v128.load (local.get $b1)))))
      (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b1)))))
      (local.set $s4 (f32x4.add (local.get $s4) (f32x4.mul (local.get $x) (v128.load (local.get $b2)))))
      (local.set $s5 (f32x4.add (local.get $s5) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b2)))))
      (local.set $s6 (f32x4.add (local.get $s6) (f32x4.mul (local.get $x) (v128.load (local.get $b3)))))
      (local.set $s7 (f32x4.add (local.get $s7) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b3)))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $b0 (i32.add (local.get $b0) (local.get $bk)))
      (local.set $b1 (i32.add (local.get $b1) (local.get $bk)))
      (local.set $b2 (i32.add (local.get $b2) (local.get $bk)))
      (local.set $b3 (i32.add (local.get $b3) (local.get $bk)))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br $l)))
    (v128.store offset=0 (local.get $c) (local.get $s0))
    (v128.store offset=16 (local.get $c) (local.get $s1))
    (v128.store offset=32 (local.get $c) (local.get $s2))
    (v128.store offset=48 (local.get $c) (local.get $s3))
    (v128.store offset=64 (local.get $c) (local.get $s4))
    (v128.store offset=80 (local.get $c) (local.get $s5))
    (v128.store offset=96 (local.get $c) (local.get $s6))
    (v128.store offset=112 (local.get $c) (local.get $s7)))

  ;; GEMM register tiles, R rows × 8 columns of one panel, generated by scripts/wat-macros.mjs:
  ;; 5 × 8 (13 of the 16 SIMD registers V8 uses on x86-64; ~16 % faster than 4 × 8, and 6 × 8
  ;; spills) and 4 × 8 for leftover rows. The accumulators start from C (when accumulating) or 0.
  (@gemm-tile $tile5x8 5)
  (@gemm-tile $tile4x8 4)

  ;; one row × one panel (the leftover panels of $row1)
  (func $tile1x8 (param $a i32) (param $b i32) (param $bk i32) (param $K i32) (param $c i32) (param $accum i32)
    (local $k i32) (local $x v128) (local $s0 v128) (local $s1 v128)
    (if (local.get $accum) (then
      (local.set $s0 (v128.load (local.get $c)))
      (local.set $s1 (v128.load offset=16 (local.get $c)))))
    (local.set $k (local.get $K))
    (block $d1 (loop $l1
      (br_if $d1 (i32.eqz (local.get $k)))
      (local.set $x (v128.load32_splat (local.get $a)))
      (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $x) (v128.load (local.get $b)))))
      (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $b (i32.add (local.get $b) (local.get $bk)))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br $l1)))
    (v128.store (local.get $c) (local.get $s0))
    (v128.store offset=16 (local.get $c) (local.get $s1)))

  ;; ---------------------------------------------------------------------------------------
  ;; Activations are macros, expanded inline by scripts/wat-macros.mjs (a call per f32x4 cost
  ;; more than the arithmetic): (@tanh4 $r EXPR) sets $r to tanh(EXPR), a clamped odd rational
  ;; function of degree 13/6 (the coefficients Eigen and MLAS use); (@sigmoid4 $r EXPR) sets $r
  ;; to σ(EXPR) = 1 / (1 + e^−EXPR) from e^−|EXPR| (relatively precise for small σ, see
  ;; scripts/wat-macros.mjs); (@act-locals $r …) declares $r and its scratch locals.
  ;; ---------------------------------------------------------------------------------------
  (func (export "tanh") (param $x i32) (param $y i32) (param $n i32)
    (@act-locals $t)
    (block $d (loop $l
      (br_if $d (i32.le_s (local.get $n) (i32.const 0)))
      (@tanh4 $t (v128.load (local.get $x)))
      (v128.store (local.get $y) (local.get $t))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (local.set $n (i32.sub (local.get $n) (i32.const 4)))
      (br $l))))

  ;; ---------------------------------------------------------------------------------------
  ;; LSTM cell for one batch row, PyTorch gate order i f g o, H a multiple of 4:
  ;;   c = σ(f)·c + σ(i)·tanh(g);  h = σ(o)·tanh(c)      (g: gate pre-activations [4H])
  ;; ---------------------------------------------------------------------------------------
  (func $lstm_cell (param $g i32) (param $c i32) (param $h i32) (param $H i32)
    (local $hb i32) (local $k i32) (local $cc v128)
    (@act-locals $i $f $gg $o $tc)
    (local.set $hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $k (local.get $H))
    (block $d (loop $l
      (br_if $d (i32.le_s (local.get $k) (i32.const 0)))
      (@sigmoid4 $i (v128.load (local.get $g)))
      (@sigmoid4 $f (v128.load (i32.add (local.get $g) (local.get $hb))))
      (@tanh4 $gg (v128.load (i32.add (local.get $g) (i32.shl (local.get $hb) (i32.const 1)))))
      (@sigmoid4 $o (v128.load (i32.add (local.get $g) (i32.mul (local.get $hb) (i32.const 3)))))
      (local.set $cc (f32x4.add (f32x4.mul (local.get $f) (v128.load (local.get $c))) (f32x4.mul (local.get $i) (local.get $gg))))
      (v128.store (local.get $c) (local.get $cc))
      (@tanh4 $tc (local.get $cc))
      (v128.store (local.get $h) (f32x4.mul (local.get $o) (local.get $tc)))
      (local.set $g (i32.add (local.get $g) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (local.set $h (i32.add (local.get $h) (i32.const 16)))
      (local.set $k (i32.sub (local.get $k) (i32.const 4)))
      (br $l))))

  ;; GRU cell (linear_before_reset = 1), PyTorch gate order r z n, H a multiple of 4:
  ;;   r = σ(x_r + h_r); z = σ(x_z + h_z); n = tanh(x_n + r·(h_n + b_hn)); h = (1 − z)·n + z·h
  ;; x: input projection row [3H] (biases folded in, except b_hn); hh: h·W_hhᵀ row [3H].
  (func $gru_cell (param $x i32) (param $hh i32) (param $bhn i32) (param $h i32) (param $H i32)
    (local $hb i32) (local $k i32)
    (@act-locals $r $z $n)
    (local.set $hb (i32.shl (local.get $H) (i32.const 2)))
    (local.set $k (local.get $H))
    (block $d (loop $l
      (br_if $d (i32.le_s (local.get $k) (i32.const 0)))
      (@sigmoid4 $r (f32x4.add (v128.load (local.get $x)) (v128.load (local.get $hh))))
      (@sigmoid4 $z (f32x4.add (v128.load (i32.add (local.get $x) (local.get $hb))) (v128.load (i32.add (local.get $hh) (local.get $hb)))))
      (@tanh4 $n (f32x4.add
        (v128.load (i32.add (local.get $x) (i32.shl (local.get $hb) (i32.const 1))))
        (f32x4.mul (local.get $r) (f32x4.add (v128.load (i32.add (local.get $hh) (i32.shl (local.get $hb) (i32.const 1)))) (v128.load (local.get $bhn))))))
      (v128.store (local.get $h) (f32x4.add (local.get $n) (f32x4.mul (local.get $z) (f32x4.sub (v128.load (local.get $h)) (local.get $n)))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $hh (i32.add (local.get $hh) (i32.const 16)))
      (local.set $bhn (i32.add (local.get $bhn) (i32.const 16)))
      (local.set $h (i32.add (local.get $h) (i32.const 16)))
      (local.set $k (i32.sub (local.get $k) (i32.const 4)))
      (br $l))))

;; The cells for N batch rows in one call (a call from JavaScript costs more than a small cell):
  ;; row n's operands at each pointer plus n times its stride in bytes.
  (func (export "lstm_rows") (param $g i32) (param $gs i32) (param $c i32) (param $cs i32) (param $h i32) (param $hs i32) (param $H i32) (param $N i32)
    (block $d (loop $l
      (br_if $d (i32.le_s (local.get $N) (i32.const 0)))
      (call $lstm_cell (local.get $g) (local.get $c) (local.get $h) (local.get $H))
      (local.set $g (i32.add (local.get $g) (local.get $gs)))
      (local.set $c (i32.add (local.get $c) (local.get $cs)))
      (local.set $h (i32.add (local.get $h) (local.get $hs)))
      (local.set $N (i32.sub (local.get $N) (i32.const 1)))
      (br $l))))

  (func (export "gru_rows") (param $x i32) (param $xs i32) (param $hh i32) (param $hhs i32) (param $bhn i32) (param $h i32) (param $hs i32) (param $H i32) (param $N i32)
    (block $d (loop $l
      (br_if $d (i32.le_s (local.get $N) (i32.const 0)))
      (call $gru_cell (local.get $x) (local.get $hh) (local.get $bhn) (local.get $h) (local.get $H))
      (local.set $x (i32.add (local.get $x) (local.get $xs)))
      (local.set $hh (i32.add (local.get $hh) (local.get $hhs)))
      (local.set $h (i32.add (local.get $h) (local.get $hs)))
      (local.set $N (i32.sub (local.get $N) (i32.const 1)))
      (br $l))))

  ;; im2col of one group of a 2-D convolution (1-D: H = 1) for N batch items, columns j0 .. j1-1
  ;; (j0 a multiple of 8): element (k, j), k = (c, kh, kw) over the group's channels,
  ;; j = n·OH·OW + oh·OW + ow, goes to byte address dst + ((j − j0) >> 3)·s8 + (j & 7)·s1 + k·sk.
  ;; Two layouts: a row-major [K, ·] (s1 = 4, s8 = 32, sk = the row's bytes), which callers pack
  ;; into gemm's panels with pack_rows, and a row-major [·, K] (s1 = 4K, sk = 4, s8 = 32K). x
  ;; points at the group's first channel of item 0, items xn bytes apart. Taps in the padding
  ;; are 0, and so are columns from N·OH·OW up to j1. Callers take columns in blocks small enough
  ;; to stay in cache until the gemm reads them.
  (func (export "im2col")
    (param $x i32) (param $xn i32) (param $dst i32) (param $s1 i32) (param $sk i32) (param $s8 i32)
    (param $N i32) (param $Cg i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32)
    (param $OH i32) (param $OW i32) (param $sH i32) (param $sW i32) (param $dH i32) (param $dW i32)
    (param $pT i32) (param $pL i32) (param $j0 i32) (param $j1 i32)
    (if (i32.eq (local.get $sk) (i32.const 4))
      (then (call $im2col_rows (local.get $x) (local.get $xn) (local.get $dst) (i32.shr_u (local.get $s1) (i32.const 2))
        (local.get $N) (local.get $Cg) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW) (local.get $OH) (local.get $OW)
        (local.get $sH) (local.get $sW) (local.get $dH) (local.get $dW) (local.get $pT) (local.get $pL) (local.get $j0) (local.get $j1)))
      (else (call $im2col_krows (local.get $x) (local.get $xn) (local.get $dst) (local.get $sk)
        (local.get $N) (local.get $Cg) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW) (local.get $OH) (local.get $OW)
        (local.get $sH) (local.get $sW) (local.get $dH) (local.get $dW) (local.get $pT) (local.get $pL) (local.get $j0) (local.get $j1)))))

  ;; n floats from src to dst (no overlap), four at a time: memory.copy / memory.fill are calls
  ;; into the engine, which cost more than the copy for the few dozen values of an im2col run.
  (func $copyf (param $dst i32) (param $src i32) (param $n i32)
    (block $d4 (loop $l4
      (br_if $d4 (i32.lt_s (local.get $n) (i32.const 4)))
      (v128.store (local.get $dst) (v128.load (local.get $src)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (local.set $n (i32.sub (local.get $n) (i32.const 4)))
      (br $l4)))
    (block $d1 (loop $l1
      (br_if $d1 (i32.le_s (local.get $n) (i32.const 0)))
      (f32.store (local.get $dst) (f32.load (local.get $src)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l1))))

  ;; n floats of dst set to 0
  (func $zerof (param $dst i32) (param $n i32)
    (block $d4 (loop $l4
      (br_if $d4 (i32.lt_s (local.get $n) (i32.const 4)))
      (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $n (i32.sub (local.get $n) (i32.const 4)))
      (br $l4)))
    (block $d1 (loop $l1
      (br_if $d1 (i32.le_s (local.get $n) (i32.const 0)))
      (f32.store (local.get $dst) (f32.const 0))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l1))))

  ;; the first n floats of each of `rows` rows at dst (ld floats apart) set to the n floats at
  ;; src: a bias row in every row of an accumulator matrix
  (func (export "fill_rows") (param $dst i32) (param $ld i32) (param $src i32) (param $rows i32) (param $n i32)
    (block $d (loop $l
      (br_if $d (i32.le_s (local.get $rows) (i32.const 0)))
      (call $copyf (local.get $dst) (local.get $src) (local.get $n))
      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ld) (i32.const 2))))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $l))))

  ;; rows rows of len floats: dst + r·ldd ← src + r·lds (strides in floats)
  (func (export "copy_rows") (param $src i32) (param $lds i32) (param $dst i32) (param $ldd i32) (param $rows i32) (param $len i32)
    (block $d (loop $l
      (br_if $d (i32.le_s (local.get $rows) (i32.const 0)))
      (call $copyf (local.get $dst) (local.get $src) (local.get $len))
      (local.set $src (i32.add (local.get $src) (i32.shl (local.get $lds) (i32.const 2))))
      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $ldd) (i32.const 2))))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $l))))

  ;; dst[c·ldd + r] = src[r·lds + c] for r < rows, c < cols (a transposed copy, row by row of dst)
  (func (export "transpose") (param $src i32) (param $lds i32) (param $dst i32) (param $ldd i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $s i32) (local $d i32) (local $ldsb i32)
    (local.set $ldsb (i32.shl (local.get $lds) (i32.const 2)))
    (block $dc (loop $lc
      (br_if $dc (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $s (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))))
      (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $c) (local.get $ldd)) (i32.const 2))))
      (local.set $r (local.get $rows))
      (block $dr (loop $lr
        (br_if $dr (i32.eqz (local.get $r)))
        (f32.store (local.get $d) (f32.load (local.get $s)))
        (local.set $s (i32.add (local.get $s) (local.get $ldsb)))
        (local.set $d (i32.add (local.get $d) (i32.const 4)))
        (local.set $r (i32.sub (local.get $r) (i32.const 1)))
        (br $lr)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $lc))))

  ;; im2col into a row-major [K, ·] (row k at dst + k·sk; callers pack it into panels with
  ;; pack_rows): for each k, the output positions of each output row in one run. With sW = 1 a
  ;; run's taps are adjacent input values: a run of 8 or more is copied as a block ($copyf)
  ;; between zeros for the padding; shorter runs and other strides one by one.
  (func $im2col_krows
    (param $x i32) (param $xn i32) (param $dst i32) (param $sk i32)
    (param $N i32) (param $Cg i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32)
    (param $OH i32) (param $OW i32) (param $sH i32) (param $sW i32) (param $dH i32) (param $dW i32)
    (param $pT i32) (param $pL i32) (param $j0 i32) (param $j1 i32)
    (local $c i32) (local $kh i32) (local $kw i32) (local $kb i32) (local $chw i32) (local $P i32) (local $jend i32)
    (local $j i32) (local $n i32) (local $oh i32) (local $ow i32) (local $n0 i32) (local $oh0 i32) (local $ow0 i32)
    (local $ih i32) (local $iw i32) (local $pd i32) (local $run i32) (local $src i32) (local $lo i32) (local $hi i32)
    (local $t i32) (local $v f32)
    (local.set $P (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $jend (select (local.get $j1) (i32.mul (local.get $N) (local.get $P))
      (i32.lt_u (local.get $j1) (i32.mul (local.get $N) (local.get $P)))))
    (local.set $n0 (i32.div_u (local.get $j0) (local.get $P)))
    (local.set $oh0 (i32.div_u (i32.rem_u (local.get $j0) (local.get $P)) (local.get $OW)))
    (local.set $ow0 (i32.rem_u (local.get $j0) (local.get $OW)))
    (local.set $chw (i32.shl (i32.mul (local.get $H) (local.get $W)) (i32.const 2)))
    (local.set $kb (local.get $dst))
    (block $dc (loop $lc
      (br_if $dc (i32.ge_u (local.get $c) (local.get $Cg)))
      (local.set $kh (i32.const 0))
      (block $dkh (loop $lkh
        (br_if $dkh (i32.ge_u (local.get $kh) (local.get $KH)))
        (local.set $kw (i32.const 0))
        (block $dkw (loop $lkw
          (br_if $dkw (i32.ge_u (local.get $kw) (local.get $KW)))
          (local.set $j (local.get $j0))
          (local.set $n (local.get $n0))
          (local.set $oh (local.get $oh0))
          (local.set $ow (local.get $ow0))
          (local.set $pd (local.get $kb))
          (block $dj (loop $lj
            (br_if $dj (i32.ge_u (local.get $j) (local.get $jend)))
            ;; the rest of this output row, up to the block's end
            (local.set $run (i32.sub (local.get $OW) (local.get $ow)))
            (if (i32.gt_u (local.get $run) (i32.sub (local.get $jend) (local.get $j)))
              (then (local.set $run (i32.sub (local.get $jend) (local.get $j)))))
            (local.set $ih (i32.add (i32.sub (i32.mul (local.get $oh) (local.get $sH)) (local.get $pT)) (i32.mul (local.get $kh) (local.get $dH))))
            (local.set $iw (i32.add (i32.sub (i32.mul (local.get $ow) (local.get $sW)) (local.get $pL)) (i32.mul (local.get $kw) (local.get $dW))))
            (if (i32.ge_u (local.get $ih) (local.get $H))
              (then (call $zerof (local.get $pd) (local.get $run)))
              (else
                (local.set $src (i32.add (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $xn)))
                  (i32.add (i32.mul (local.get $c) (local.get $chw)) (i32.shl (i32.mul (local.get $ih) (local.get $W)) (i32.const 2)))))
                (if (i32.and (i32.eq (local.get $sW) (i32.const 1)) (i32.ge_u (local.get $run) (i32.const 8)))
                  (then
                    ;; taps t in [lo, hi) fall inside the input row
                    (local.set $lo (select (i32.sub (i32.const 0) (local.get $iw)) (i32.const 0) (i32.lt_s (local.get $iw) (i32.const 0))))
                    (if (i32.gt_s (local.get $lo) (local.get $run)) (then (local.set $lo (local.get $run))))
                    (local.set $hi (i32.sub (local.get $W) (local.get $iw)))
                    (if (i32.gt_s (local.get $hi) (local.get $run)) (then (local.set $hi (local.get $run))))
                    (if (i32.lt_s (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))
                    (call $zerof (local.get $pd) (local.get $lo))
                    (call $copyf (i32.add (local.get $pd) (i32.shl (local.get $lo) (i32.const 2)))
                      (i32.add (local.get $src) (i32.shl (i32.add (local.get $iw) (local.get $lo)) (i32.const 2)))
                      (i32.sub (local.get $hi) (local.get $lo)))
                    (call $zerof (i32.add (local.get $pd) (i32.shl (local.get $hi) (i32.const 2)))
                      (i32.sub (local.get $run) (local.get $hi))))
                  (else
                    (local.set $t (i32.const 0))
                    (block $dt (loop $lt
                      (br_if $dt (i32.ge_u (local.get $t) (local.get $run)))
                      (local.set $v (f32.const 0))
                      ;; unsigned compare: a negative iw is out of range too
                      (if (i32.lt_u (local.get $iw) (local.get $W))
                        (then (local.set $v (f32.load (i32.add (local.get $src) (i32.shl (local.get $iw) (i32.const 2)))))))
                      (f32.store (i32.add (local.get $pd) (i32.shl (local.get $t) (i32.const 2))) (local.get $v))
                      (local.set $iw (i32.add (local.get $iw) (local.get $sW)))
                      (local.set $t (i32.add (local.get $t) (i32.const 1)))
                      (br $lt)))))))
            (local.set $pd (i32.add (local.get $pd) (i32.shl (local.get $run) (i32.const 2))))
            (local.set $j (i32.add (local.get $j) (local.get $run)))
            (local.set $ow (i32.add (local.get $ow) (local.get $run)))
            (if (i32.ge_u (local.get $ow) (local.get $OW)) (then
              (local.set $ow (i32.const 0))
              (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
              (if (i32.ge_u (local.get $oh) (local.get $OH)) (then
                (local.set $oh (i32.const 0))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
            (br $lj)))
          ;; columns past the last output position are zero
          (if (i32.gt_u (local.get $j1) (local.get $j))
            (then (call $zerof (local.get $pd) (i32.sub (local.get $j1) (local.get $j)))))
          (local.set $kb (i32.add (local.get $kb) (local.get $sk)))
          (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
          (br $lkw)))
        (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
        (br $lkh)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $lc))))

  ;; im2col into a row-major [·, K]: one row per output position, its taps (c, kh, kw) in order.
  ;; With dW = 1 a row's KW taps are adjacent input values: when KW ≥ 8 they are copied as a
  ;; block ($copyf) between zeros for the padding; fewer taps and other dilations one by one.
  (func $im2col_rows
    (param $x i32) (param $xn i32) (param $dst i32) (param $K i32)
    (param $N i32) (param $Cg i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32)
    (param $OH i32) (param $OW i32) (param $sH i32) (param $sW i32) (param $dH i32) (param $dW i32)
    (param $pT i32) (param $pL i32) (param $j0 i32) (param $j1 i32)
    (local $c i32) (local $kh i32) (local $kw i32) (local $chw i32) (local $P i32) (local $jend i32)
    (local $j i32) (local $n i32) (local $oh i32) (local $ow i32) (local $ih i32) (local $iw i32) (local $iw0 i32)
    (local $row i32) (local $pd i32) (local $src i32) (local $lo i32) (local $hi i32) (local $kwb i32) (local $v f32)
    (local.set $P (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $jend (select (local.get $j1) (i32.mul (local.get $N) (local.get $P))
      (i32.lt_u (local.get $j1) (i32.mul (local.get $N) (local.get $P)))))
    (local.set $n (i32.div_u (local.get $j0) (local.get $P)))
    (local.set $oh (i32.div_u (i32.rem_u (local.get $j0) (local.get $P)) (local.get $OW)))
    (local.set $ow (i32.rem_u (local.get $j0) (local.get $OW)))
    (local.set $chw (i32.shl (i32.mul (local.get $H) (local.get $W)) (i32.const 2)))
    (local.set $kwb (i32.shl (local.get $KW) (i32.const 2)))
    (local.set $row (local.get $dst))
    (local.set $j (local.get $j0))
    (block $dj (loop $lj
      (br_if $dj (i32.ge_u (local.get $j) (local.get $jend)))
      (local.set $pd (local.get $row))
      (local.set $iw0 (i32.sub (i32.mul (local.get $ow) (local.get $sW)) (local.get $pL)))
      ;; the kw range whose taps fall inside the input row (dW = 1): [lo, hi)
      (local.set $lo (select (i32.sub (i32.const 0) (local.get $iw0)) (i32.const 0) (i32.lt_s (local.get $iw0) (i32.const 0))))
      (if (i32.gt_s (local.get $lo) (local.get $KW)) (then (local.set $lo (local.get $KW))))
      (local.set $hi (i32.sub (local.get $W) (local.get $iw0)))
      (if (i32.gt_s (local.get $hi) (local.get $KW)) (then (local.set $hi (local.get $KW))))
      (if (i32.lt_s (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))
      (local.set $c (i32.const 0))
      (block $dc (loop $lc
        (br_if $dc (i32.ge_u (local.get $c) (local.get $Cg)))
        (local.set $kh (i32.const 0))
        (block $dkh (loop $lkh
          (br_if $dkh (i32.ge_u (local.get $kh) (local.get $KH)))
          (local.set $ih (i32.add (i32.sub (i32.mul (local.get $oh) (local.get $sH)) (local.get $pT)) (i32.mul (local.get $kh) (local.get $dH))))
          (if (i32.ge_u (local.get $ih) (local.get $H))
            (then (call $zerof (local.get $pd) (local.get $KW)))
            (else
              (local.set $src (i32.add (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $xn)))
                (i32.add (i32.mul (local.get $c) (local.get $chw)) (i32.shl (i32.mul (local.get $ih) (local.get $W)) (i32.const 2)))))
              (if (i32.and (i32.eq (local.get $dW) (i32.const 1)) (i32.ge_u (local.get $KW) (i32.const 8)))
                (then
                  (call $zerof (local.get $pd) (local.get $lo))
                  (call $copyf (i32.add (local.get $pd) (i32.shl (local.get $lo) (i32.const 2)))
                    (i32.add (local.get $src) (i32.shl (i32.add (local.get $iw0) (local.get $lo)) (i32.const 2)))
                    (i32.sub (local.get $hi) (local.get $lo)))
                  (call $zerof (i32.add (local.get $pd) (i32.shl (local.get $hi) (i32.const 2)))
                    (i32.sub (local.get $KW) (local.get $hi))))
                (else
                  (local.set $kw (i32.const 0))
                  (local.set $iw (local.get $iw0))
                  (block $dkw (loop $lkw
                    (br_if $dkw (i32.ge_u (local.get $kw) (local.get $KW)))
                    (local.set $v (f32.const 0))
                    (if (i32.lt_u (local.get $iw) (local.get $W))
                      (then (local.set $v (f32.load (i32.add (local.get $src) (i32.shl (local.get $iw) (i32.const 2)))))))
                    (f32.store (i32.add (local.get $pd) (i32.shl (local.get $kw) (i32.const 2))) (local.get $v))
                    (local.set $iw (i32.add (local.get $iw) (local.get $dW)))
                    (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
                    (br $lkw)))))))
          (local.set $pd (i32.add (local.get $pd) (local.get $kwb)))
          (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
          (br $lkh)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $lc)))
      (local.set $row (i32.add (local.get $row) (i32.shl (local.get $K) (i32.const 2))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
      (if (i32.ge_u (local.get $ow) (local.get $OW)) (then
        (local.set $ow (i32.const 0))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (if (i32.ge_u (local.get $oh) (local.get $OH)) (then
          (local.set $oh (i32.const 0))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
      (br $lj)))
    ;; columns past the last output position are zero rows
    (if (i32.gt_u (local.get $j1) (local.get $jend))
      (then (call $zerof (local.get $row) (i32.mul (i32.sub (local.get $j1) (local.get $jend)) (local.get $K))))))

  ;; Depthwise convolution (one input channel per group, M/C output channels per input channel),
  ;; 2-D (1-D: H = 1), N batch items: y[n, m] = b[m] + Σ_{kh, kw} w[m, kh, kw]·x[n, m / (M/C)]
  ;; shifted, tap by tap over each output row's valid range (a SIMD axpy when sW = 1), summed in
  ;; float32 in tap order. Planes are contiguous; b = 0 means no bias.
  (func (export "dwconv")
    (param $x i32) (param $y i32) (param $w i32) (param $b i32) (param $N i32) (param $C i32) (param $M i32)
    (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $OH i32) (param $OW i32)
    (param $sH i32) (param $sW i32) (param $dH i32) (param $dW i32) (param $pT i32) (param $pL i32)
    (local $n i32) (local $m i32) (local $kh i32) (local $kw i32) (local $oh i32) (local $xp i32) (local $yp i32)
    (local $offh i32) (local $offw i32) (local $ohLo i32) (local $ohHi i32) (local $owLo i32) (local $owHi i32)
    (local $mper i32) (local $wt f32) (local $i i32) (local $P i32) (local $xr i32) (local $yr i32)
    (local.set $mper (i32.div_u (local.get $M) (local.get $C)))
    (local.set $P (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $n (i32.const 0))
    (block $dn (loop $ln
      (br_if $dn (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $m (i32.const 0))
      (block $dm (loop $lm
        (br_if $dm (i32.ge_u (local.get $m) (local.get $M)))
        (local.set $xp (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (i32.div_u (local.get $m) (local.get $mper)))
          (i32.mul (local.get $H) (local.get $W))) (i32.const 2))))
        (local.set $yp (i32.add (local.get $y) (i32.shl (i32.mul (i32.add (i32.mul (local.get $n) (local.get $M)) (local.get $m)) (local.get $P)) (i32.const 2))))
        (local.set $wt (if (result f32) (local.get $b) (then (f32.load (i32.add (local.get $b) (i32.shl (local.get $m) (i32.const 2))))) (else (f32.const 0))))
        (local.set $i (i32.const 0))
        (block $df (loop $lf
          (br_if $df (i32.ge_u (local.get $i) (local.get $P)))
          (f32.store (i32.add (local.get $yp) (i32.shl (local.get $i) (i32.const 2))) (local.get $wt))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $lf)))
        (local.set $kh (i32.const 0))
        (block $dkh (loop $lkh
          (br_if $dkh (i32.ge_u (local.get $kh) (local.get $KH)))
          (local.set $offh (i32.sub (i32.mul (local.get $kh) (local.get $dH)) (local.get $pT)))
          (local.set $ohLo (call $rangeLo (local.get $sH) (local.get $offh)))
          (local.set $ohHi (call $rangeHi (local.get $OH) (local.get $sH) (local.get $offh) (local.get $H)))
          (local.set $kw (i32.const 0))
          (block $dkw (loop $lkw
            (br_if $dkw (i32.ge_u (local.get $kw) (local.get $KW)))
            (local.set $offw (i32.sub (i32.mul (local.get $kw) (local.get $dW)) (local.get $pL)))
            (local.set $owLo (call $rangeLo (local.get $sW) (local.get $offw)))
            (local.set $owHi (call $rangeHi (local.get $OW) (local.get $sW) (local.get $offw) (local.get $W)))
            (local.set $wt (f32.load (i32.add (local.get $w) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $m) (local.get $KH)) (local.get $kh)) (local.get $KW)) (local.get $kw)) (i32.const 2)))))
            (if (i32.lt_s (local.get $owLo) (local.get $owHi)) (then
              (local.set $oh (local.get $ohLo))
              (block $doh (loop $loh
                (br_if $doh (i32.ge_s (local.get $oh) (local.get $ohHi)))
                (local.set $xr (i32.add (local.get $xp) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $oh) (local.get $sH)) (local.get $offh)) (local.get $W))
                  (i32.add (i32.mul (local.get $owLo) (local.get $sW)) (local.get $offw))) (i32.const 2))))
                (local.set $yr (i32.add (local.get $yp) (i32.shl (i32.add (i32.mul (local.get $oh) (local.get $OW)) (local.get $owLo)) (i32.const 2))))
                (call $axpy (local.get $yr) (local.get $xr) (local.get $wt) (i32.sub (local.get $owHi) (local.get $owLo)) (i32.shl (local.get $sW) (i32.const 2)))
                (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
                (br $loh)))))
            (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
            (br $lkw)))
          (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
          (br $lkh)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $lm)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ln))))

  ;; First o ≥ 0 with o·s + off ≥ 0.
  (func $rangeLo (param $s i32) (param $off i32) (result i32)
    (if (result i32) (i32.ge_s (local.get $off) (i32.const 0)) (then (i32.const 0))
      (else (i32.div_s (i32.sub (i32.add (i32.sub (i32.const 0) (local.get $off)) (local.get $s)) (i32.const 1)) (local.get $s)))))
  ;; One past the last o < count with o·s + off < size (at least 0).
  (func $rangeHi (param $count i32) (param $s i32) (param $off i32) (param $size i32) (result i32)
    (local $t i32)
    (local.set $t (i32.sub (i32.sub (local.get $size) (i32.const 1)) (local.get $off)))
    (if (result i32) (i32.lt_s (local.get $t) (i32.const 0)) (then (i32.const 0))
      (else
        (local.set $t (i32.add (i32.div_s (local.get $t) (local.get $s)) (i32.const 1)))
        (select (local.get $t) (local.get $count) (i32.lt_s (local.get $t) (local.get $count))))))
  ;; y[i] += w·x[i·sx] for i < n (sx in bytes): four lanes at a time when x is contiguous.
  (func $axpy (param $y i32) (param $x i32) (param $w f32) (param $n i32) (param $sx i32)
    (local $wv v128) (local $end i32)
    (local.set $end (i32.add (local.get $y) (i32.shl (local.get $n) (i32.const 2))))
    (if (i32.eq (local.get $sx) (i32.const 4)) (then
      (local.set $wv (f32x4.splat (local.get $w)))
      (block $d4 (loop $l4
        (br_if $d4 (i32.gt_s (i32.add (local.get $y) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $y) (f32x4.add (v128.load (local.get $y)) (f32x4.mul (local.get $wv) (v128.load (local.get $x)))))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $l4)))))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $y) (local.get $end)))
      (f32.store (local.get $y) (f32.add (f32.load (local.get $y)) (f32.mul (local.get $w) (f32.load (local.get $x)))))
      (local.set $y (i32.add (local.get $y) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (local.get $sx)))
      (br $l1))))

  ;; Packs a row-major matrix B [K, ≥ npad] (rows ld floats apart) into gemm's 8-column panels at
  ;; dst: panel p = B[k, 8p .. 8p+7] for k = 0..K-1. Columns past B's width copy whatever follows
  ;; the row (the caller ignores their results; reads stay within K·ld + 8 floats of src).
  (func (export "pack_rows") (param $src i32) (param $ld i32) (param $K i32) (param $npad i32) (param $dst i32)
    (local $p i32) (local $k i32) (local $s i32) (local $ldb i32)
    (local.set $ldb (i32.shl (local.get $ld) (i32.const 2)))
    (block $dp (loop $lp
      (br_if $dp (i32.ge_u (local.get $p) (local.get $npad)))
      (local.set $s (i32.add (local.get $src) (i32.shl (local.get $p) (i32.const 2))))
      (local.set $k (local.get $K))
      (block $dk (loop $lk
        (br_if $dk (i32.eqz (local.get $k)))
        (v128.store (local.get $dst) (v128.load (local.get $s)))
        (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $s)))
        (local.set $s (i32.add (local.get $s) (local.get $ldb)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $lk)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $lp))))

  ;; x[i] = max(0, x[i]) in place for i < n rounded up to a multiple of 4: Relu as rnnx's own op
  ;; computes it (a NaN stays NaN, -0 gives +0): pmax(x, 0) is x < 0 ? 0 : x, and + 0 makes -0 +0.
  (func (export "relu") (param $x i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $x) (local.get $end)))
      (v128.store (local.get $x) (f32x4.add (f32x4.pmax (v128.load (local.get $x)) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 0 0 0 0)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (br $l))))

  ;; y[i] += b[i mod n] for rows: adds a bias row to every row of a [rows, ld] matrix (first n columns)
  (func (export "add_bias") (param $y i32) (param $b i32) (param $rows i32) (param $n i32) (param $ld i32)
    (local $r i32) (local $j i32) (local $row i32)
    (block $dr (loop $lr
      (br_if $dr (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $row (i32.add (local.get $y) (i32.shl (i32.mul (local.get $r) (local.get $ld)) (i32.const 2))))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.ge_s (local.get $j) (local.get $n)))
        (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
          (f32x4.add (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                     (v128.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $lj)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $lr))))

;; Softmax / LogSoftmax over `rows` contiguous rows of n values (any n ≥ 1): y = exp(x − max) / Σ,
  ;; or y = x − max − log Σ. Each row is read in whole vectors, the lanes past its end taken as −inf
  ;; (so they add 0), and written in whole vectors: the last one spills up to 3 floats into the next
  ;; row of y, which is written after it (y must not overlap x; the arena's slack takes the last
  ;; row's spill). The max ignores NaNs (pmax), but a NaN still makes Σ and so the whole row NaN.
  (func (export "softmax_rows") (param $x i32) (param $y i32) (param $rows i32) (param $n i32) (param $logmode i32)
    (local $r i32) (local $j i32) (local $xr i32) (local $yr i32) (local $mx v128) (local $sm v128)
    (local $m f32) (local $sum f32) (local $shift v128) (local $v v128) (local $nn v128) (local $n4 i32)
    (@act-locals $e)
    (local.set $nn (i32x4.splat (local.get $n)))
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $dr (loop $lr
      (br_if $dr (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $xr (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
      (local.set $yr (i32.add (local.get $y) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
      (local.set $mx (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_s (local.get $j) (local.get $n4)))
        (local.set $mx (f32x4.pmax (local.get $mx) (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l1)))
      (if (i32.lt_s (local.get $j) (local.get $n)) (then
        (local.set $mx (f32x4.pmax (local.get $mx)
          (v128.bitselect (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2)))) (v128.const f32x4 -inf -inf -inf -inf)
            (i32x4.lt_s (i32x4.add (i32x4.splat (local.get $j)) (v128.const i32x4 0 1 2 3)) (local.get $nn)))))))
      (local.set $m (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
                             (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
      (local.set $shift (f32x4.splat (local.get $m)))
      (local.set $sm (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $v (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2)))))
        ;; the last, partial vector: lanes past the row are -inf
        (if (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)) (then
          (local.set $v (v128.bitselect (local.get $v) (v128.const f32x4 -inf -inf -inf -inf)
            (i32x4.lt_s (i32x4.add (i32x4.splat (local.get $j)) (v128.const i32x4 0 1 2 3)) (local.get $nn))))))
        (@exp4 $e (f32x4.sub (local.get $v) (local.get $shift)))
        ;; exp(-inf) must be 0 (the lanes past the row): the clamp gave a tiny positive value
        (local.set $e (v128.and (local.get $e) (f32x4.ne (local.get $v) (v128.const f32x4 -inf -inf -inf -inf))))
        (local.set $sm (f32x4.add (local.get $sm) (local.get $e)))
        (if (i32.eqz (local.get $logmode)) (then (v128.store (i32.add (local.get $yr) (i32.shl (local.get $j) (i32.const 2))) (local.get $e))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l2)))
      (local.set $sum (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sm)) (f32x4.extract_lane 1 (local.get $sm)))
                               (f32.add (f32x4.extract_lane 2 (local.get $sm)) (f32x4.extract_lane 3 (local.get $sm)))))
      (if (local.get $logmode)
        (then
          ;; (x − max) − log Σ, in that order: max + log Σ first would round log Σ to max's ulp
          (local.set $sm (f32x4.splat (f32.demote_f64 (call $log (f64.promote_f32 (local.get $sum))))))
          (local.set $j (i32.const 0))
          (block $d3 (loop $l3
            (br_if $d3 (i32.ge_s (local.get $j) (local.get $n)))
            (v128.store (i32.add (local.get $yr) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.sub (f32x4.sub (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2)))) (local.get $shift)) (local.get $sm)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $l3))))
        (else
          (local.set $shift (f32x4.splat (f32.div (f32.const 1) (local.get $sum))))
          (local.set $j (i32.const 0))
          (block $d4 (loop $l4
            (br_if $d4 (i32.ge_s (local.get $j) (local.get $n)))
            (v128.store (i32.add (local.get $yr) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.mul (v128.load (i32.add (local.get $yr) (i32.shl (local.get $j) (i32.const 2)))) (local.get $shift)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $l4)))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $lr))))

  ;; ---------------------------------------------------------------------------------------
  ;; Elementwise float32 kernels for the Relu … Reciprocal ops and Add/Sub/Mul/Div (src/wasm/eltwise.ts).
  ;; unary: y = f(x) over n floats rounded up to a multiple of 4, two vectors a step: x and y need
  ;; one spare vector after that (the last step may read and write it); y may be x. Ops: 0 Relu (a NaN stays NaN, -0 gives +0), 1 Sigmoid (@sigmoid4), 2 Tanh
  ;; (@tanh4), 3 Exp (@exp4; above 88, e^(x−c)·e^c with c = 0.693359375 so that e^x is exact up to
  ;; FLT_MAX and +inf past it; 0 below -87.3), 4 Log (@log4), 5 Sqrt, 6 Neg, 7 Abs,
  ;; 8 Reciprocal, 9 x·x, 10 x·x·x (Pow 2 and 3 as onnxruntime computes them), 11 x^0.5 (√x, with
  ;; pow's -0 → +0 and -inf → +inf), 12 Clip to [p0, p1] (x < p0 ? p0 : x, then > p1 ? p1: a NaN
  ;; stays NaN), 13 LeakyRelu / PRelu with one slope p0 (x ≥ 0 ? x : p0·x). All but 1–4 are exact:
  ;; the same float32 results as the TypeScript loops.
  ;; ---------------------------------------------------------------------------------------
  (func (export "unary") (param $op i32) (param $x i32) (param $y i32) (param $n i32) (param $p0 f32) (param $p1 f32)
    (local $end i32) (local $v v128) (local $m v128) (local $w v128) (local $m2 v128) (local $a v128) (local $b v128)
    (@act-locals $t $u)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)) (i32.const 2))))
    (local.set $a (f32x4.splat (local.get $p0)))
    (local.set $b (f32x4.splat (local.get $p1)))
    (block $b13 (block $b12 (block $b11 (block $b10 (block $b9 (block $b8 (block $b7 (block $b6 (block $b5 (block $b4 (block $b3 (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b6 $b7 $b8 $b9 $b10 $b11 $b12 $b13 $b13 (local.get $op)))
      (@map4 (local.set $t (f32x4.add (f32x4.pmax (local.get $v) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 0 0 0 0)))))
      (@map4 (@sigmoid4 $t (local.get $v))))
      (@map4 (@tanh4 $t (local.get $v))))
      (@map4 (local.set $m (f32x4.gt (local.get $v) (v128.const f32x4 88 88 88 88))) (@exp4 $t (f32x4.sub (local.get $v) (v128.and (local.get $m) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))) (local.set $t (v128.andnot (f32x4.mul (local.get $t) (v128.bitselect (v128.const f32x4 2.000424385070801 2.000424385070801 2.000424385070801 2.000424385070801) (v128.const f32x4 1 1 1 1) (local.get $m))) (f32x4.lt (local.get $v) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))))))
      (@map4 (@log4 $t (local.get $v))))
      (@map4 (local.set $t (f32x4.sqrt (local.get $v)))))
      (@map4 (local.set $t (f32x4.neg (local.get $v)))))
      (@map4 (local.set $t (f32x4.abs (local.get $v)))))
      (@map4 (local.set $t (f32x4.div (v128.const f32x4 1 1 1 1) (local.get $v)))))
    (@map4 (local.set $t (f32x4.mul (local.get $v) (local.get $v)))))
    (@map4 (local.set $t (f32x4.mul (f32x4.mul (local.get $v) (local.get $v)) (local.get $v)))))
    (@map4 (local.set $t (v128.bitselect (v128.const f32x4 inf inf inf inf) (f32x4.add (f32x4.sqrt (local.get $v)) (v128.const f32x4 0 0 0 0)) (f32x4.eq (local.get $v) (v128.const f32x4 -inf -inf -inf -inf))))))
    (@map4 (local.set $t (f32x4.pmin (f32x4.pmax (local.get $v) (local.get $a)) (local.get $b)))))
    (@map4 (local.set $t (v128.bitselect (local.get $v) (f32x4.mul (local.get $v) (local.get $a)) (f32x4.ge (local.get $v) (v128.const f32x4 0 0 0 0))))))

  ;; binop: y = a OP b (OP 0 add, 1 sub, 2 mul, 3 div, 4 PRelu: a < 0 ? b·a : a) over `rows` rows of `len` floats; row r
  ;; reads a from element oa[r], b from ob[r] (i32 arrays at oa, ob), each running along or, by
  ;; `kind` (0 both run, 1 b repeats, 2 a repeats, 3 both repeat), repeating one element. y is
  ;; contiguous. Exact: each element is one correctly rounded float32 operation, as in the
  ;; TypeScript loops.
  ;; ---------------------------------------------------------------------------------------
  (type $binrows (func (param i32 i32 i32 i32 i32 i32 i32)))
  (table 20 funcref)
  (elem (i32.const 0) $add_vv $add_vs $add_sv $add_ss $sub_vv $sub_vs $sub_sv $sub_ss $mul_vv $mul_vs $mul_sv $mul_ss $div_vv $div_vs $div_sv $div_ss
    $prelu_vv $prelu_vs $prelu_sv $prelu_ss)
  (func (export "binop") (param $op i32) (param $a i32) (param $b i32) (param $y i32) (param $rows i32) (param $len i32) (param $kind i32) (param $oa i32) (param $ob i32)
    (call_indirect (type $binrows) (local.get $a) (local.get $b) (local.get $y) (local.get $rows) (local.get $len) (local.get $oa) (local.get $ob)
      (i32.add (i32.shl (select (local.get $op) (i32.const 0) (i32.le_u (local.get $op) (i32.const 4))) (i32.const 2)) (i32.and (local.get $kind) (i32.const 3)))))
  (@binop-rows $add add)
  (@binop-rows $sub sub)
  (@binop-rows $mul mul)
  (@binop-rows $div div)
  (@binop-rows $prelu prelu)
)
