;; rnnx WebAssembly SIMD kernels (f32x4). Assembled by scripts/build-wasm.mjs with wabt.
;; All pointers are byte offsets into the exported memory; all sizes are element counts.
(module
  (import "env" "log" (func $log (param f64) (result f64)))
  (memory (export "memory") 1)

  ;; ---------------------------------------------------------------------------------------
  ;; gemm: C[M, Npad] (+)= A[M, K] · B[K, Npad], B packed in 8-column panels: panel p holds
  ;; B[k, 8p .. 8p+7] for k = 0..K-1 contiguously (K·8 floats). Rows of C are ldc floats apart,
  ;; rows of A lda floats apart. 4×8 register tiles; leftover rows go through $row1. Every tile
  ;; sums each C[m, n] over k in order, then adds the old C[m, n] when accumulating, so a row's
  ;; result does not depend on M, on the tile that computed it, or on the panel order.
  ;; ---------------------------------------------------------------------------------------
  (func $gemm (export "gemm")
    (param $a i32) (param $lda i32) (param $bp i32) (param $K i32) (param $npad i32)
    (param $c i32) (param $ldc i32) (param $M i32) (param $accum i32)
    (local $m i32) (local $p i32) (local $panels i32) (local $pbytes i32) (local $arow i32) (local $crow i32) (local $flip i32)
    (local.set $panels (i32.shr_u (local.get $npad) (i32.const 3)))
    (local.set $pbytes (i32.shl (local.get $K) (i32.const 5))) ;; K·8·4
    (local.set $m (i32.const 0))
    (block $rows4_done
      (loop $rows4
        (br_if $rows4_done (i32.gt_s (i32.add (local.get $m) (i32.const 4)) (local.get $M)))
        (local.set $arow (i32.add (local.get $a) (i32.shl (i32.mul (local.get $m) (local.get $lda)) (i32.const 2))))
        (local.set $crow (i32.add (local.get $c) (i32.shl (i32.mul (local.get $m) (local.get $ldc)) (i32.const 2))))
        (local.set $p (i32.const 0))
        (block $pd (loop $pl
          (br_if $pd (i32.ge_u (local.get $p) (local.get $panels)))
          (call $tile4x8 (local.get $arow) (local.get $lda)
            (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes)))
            (local.get $K)
            (i32.add (local.get $crow) (i32.shl (local.get $p) (i32.const 5)))
            (local.get $ldc) (local.get $accum))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $pl)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $rows4)))
    ;; leftover rows (all rows at batch 1), one at a time; see $row1
    (local.set $flip (i32.xor (global.get $flip) (i32.const 1)))
    (global.set $flip (local.get $flip))
    (block $rows1_done
      (loop $rows1
        (br_if $rows1_done (i32.ge_s (local.get $m) (local.get $M)))
        (call $row1
          (i32.add (local.get $a) (i32.shl (i32.mul (local.get $m) (local.get $lda)) (i32.const 2)))
          (local.get $bp) (local.get $K) (local.get $panels)
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
  (func $row1 (param $a i32) (param $bp i32) (param $K i32) (param $panels i32) (param $c i32) (param $accum i32) (param $reverse i32)
    (local $p i32) (local $quads i32) (local $pbytes i32)
    (local.set $pbytes (i32.shl (local.get $K) (i32.const 5))) ;; K·8·4
    (local.set $quads (i32.shl (i32.shr_u (local.get $panels) (i32.const 2)) (i32.const 2)))
    (if (local.get $reverse)
      (then
        (local.set $p (local.get $panels))
        (block $d1 (loop $l1
          (br_if $d1 (i32.le_u (local.get $p) (local.get $quads)))
          (local.set $p (i32.sub (local.get $p) (i32.const 1)))
          (call $tile1x8 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes)))
            (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (br $l1)))
        (block $d4 (loop $l4
          (br_if $d4 (i32.eqz (local.get $p)))
          (local.set $p (i32.sub (local.get $p) (i32.const 4)))
          (call $tile1x32 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes))) (local.get $pbytes)
            (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (br $l4))))
      (else
        (block $d4 (loop $l4
          (br_if $d4 (i32.ge_u (local.get $p) (local.get $quads)))
          (call $tile1x32 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes))) (local.get $pbytes)
            (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br $l4)))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $p) (local.get $panels)))
          (call $tile1x8 (local.get $a) (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $pbytes)))
            (local.get $K) (i32.add (local.get $c) (i32.shl (local.get $p) (i32.const 5))) (local.get $accum))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $l1))))))

  ;; one row × four consecutive panels (32 columns), `pbytes` apart
  (func $tile1x32 (param $a i32) (param $b0 i32) (param $pbytes i32) (param $K i32) (param $c i32) (param $accum i32)
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
      (local.set $b0 (i32.add (local.get $b0) (i32.const 32)))
      (local.set $b1 (i32.add (local.get $b1) (i32.const 32)))
      (local.set $b2 (i32.add (local.get $b2) (i32.const 32)))
      (local.set $b3 (i32.add (local.get $b3) (i32.const 32)))
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

  ;; 4 rows × 8 columns of one panel
  (func $tile4x8 (param $a i32) (param $lda i32) (param $b i32) (param $K i32) (param $c i32) (param $ldc i32) (param $accum i32)
    (local $k i32) (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $ldab i32) (local $ldcb i32)
    (local.set $ldab (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $ldcb (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $a0 (local.get $a))
    (local.set $a1 (i32.add (local.get $a0) (local.get $ldab)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $ldab)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $ldab)))
    (if (local.get $accum) (then
      (local.set $c00 (v128.load (local.get $c)))
      (local.set $c01 (v128.load offset=16 (local.get $c)))
      (local.set $c10 (v128.load (i32.add (local.get $c) (local.get $ldcb))))
      (local.set $c11 (v128.load offset=16 (i32.add (local.get $c) (local.get $ldcb))))
      (local.set $c20 (v128.load (i32.add (local.get $c) (i32.shl (local.get $ldcb) (i32.const 1)))))
      (local.set $c21 (v128.load offset=16 (i32.add (local.get $c) (i32.shl (local.get $ldcb) (i32.const 1)))))
      (local.set $c30 (v128.load (i32.add (local.get $c) (i32.mul (local.get $ldcb) (i32.const 3)))))
      (local.set $c31 (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $ldcb) (i32.const 3)))))))
    (local.set $k (local.get $K))
    (block $done (loop $kl
      (br_if $done (i32.eqz (local.get $k)))
      (local.set $b0 (v128.load (local.get $b)))
      (local.set $b1 (v128.load offset=16 (local.get $b)))
      (local.set $x (v128.load32_splat (local.get $a0)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a1)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a2)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a3)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $b (i32.add (local.get $b) (i32.const 32)))
      (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
      (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
      (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
      (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br $kl)))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldcb)))
    (v128.store (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $ldcb)))
    (v128.store (local.get $c) (local.get $c20))
    (v128.store offset=16 (local.get $c) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $ldcb)))
    (v128.store (local.get $c) (local.get $c30))
    (v128.store offset=16 (local.get $c) (local.get $c31)))

  ;; one row × one panel (the leftover panels of $row1)
  (func $tile1x8 (param $a i32) (param $b i32) (param $K i32) (param $c i32) (param $accum i32)
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
      (local.set $b (i32.add (local.get $b) (i32.const 32)))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br $l1)))
    (v128.store (local.get $c) (local.get $s0))
    (v128.store offset=16 (local.get $c) (local.get $s1)))

  ;; ---------------------------------------------------------------------------------------
  ;; Activations are macros, expanded inline by scripts/wat-macros.mjs (a call per f32x4 cost
  ;; more than the arithmetic): (@tanh4 $r EXPR) sets $r to tanh(EXPR), a clamped odd rational
  ;; function of degree 13/6 (the coefficients Eigen and MLAS use); (@sigmoid4 $r EXPR) sets $r
  ;; to σ(EXPR) = 0.5 + 0.5·tanh(EXPR/2); (@act-locals $r …) declares $r and its scratch locals.
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
  (func (export "lstm_cell") (param $g i32) (param $c i32) (param $h i32) (param $H i32)
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
  (func (export "gru_cell") (param $x i32) (param $hh i32) (param $bhn i32) (param $h i32) (param $H i32)
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
;; ---------------------------------------------------------------------------------------
  ;; exp: Cephes-style range reduction x = n·ln2 + r, a degree-6 polynomial for e^r, 2^n from
  ;; the exponent bits; inputs clamped to [-87.3, 88.7].
  ;; ---------------------------------------------------------------------------------------
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.pmin (f32x4.pmax (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)) (v128.const f32x4 88.7 88.7 88.7 88.7)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.add (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 2.12194440e-4 2.12194440e-4 2.12194440e-4 2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; Softmax / LogSoftmax over `rows` contiguous rows of n values (n a multiple of 4; callers pad
  ;; with -inf): y = exp(x − max) / Σ, or y = x − max − log Σ.
  (func (export "softmax_rows") (param $x i32) (param $y i32) (param $rows i32) (param $n i32) (param $logmode i32)
    (local $r i32) (local $j i32) (local $xr i32) (local $yr i32) (local $mx v128) (local $sm v128)
    (local $m f32) (local $sum f32) (local $e v128) (local $shift v128)
    (block $dr (loop $lr
      (br_if $dr (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $xr (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
      (local.set $yr (i32.add (local.get $y) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
      (local.set $mx (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $mx (f32x4.max (local.get $mx) (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l1)))
      (local.set $m (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
                             (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
      (local.set $shift (f32x4.splat (local.get $m)))
      (local.set $sm (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $e (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2)))) (local.get $shift))))
        ;; exp(-inf) must be 0 (padding): clamp gave a tiny positive value
        (local.set $e (v128.and (local.get $e) (f32x4.ne (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2)))) (v128.const f32x4 -inf -inf -inf -inf))))
        (local.set $sm (f32x4.add (local.get $sm) (local.get $e)))
        (if (i32.eqz (local.get $logmode)) (then (v128.store (i32.add (local.get $yr) (i32.shl (local.get $j) (i32.const 2))) (local.get $e))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l2)))
      (local.set $sum (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sm)) (f32x4.extract_lane 1 (local.get $sm)))
                               (f32.add (f32x4.extract_lane 2 (local.get $sm)) (f32x4.extract_lane 3 (local.get $sm)))))
      (if (local.get $logmode)
        (then
          (local.set $shift (f32x4.splat (f32.add (local.get $m) (f32.demote_f64 (call $log (f64.promote_f32 (local.get $sum)))))))
          (local.set $j (i32.const 0))
          (block $d3 (loop $l3
            (br_if $d3 (i32.ge_s (local.get $j) (local.get $n)))
            (v128.store (i32.add (local.get $yr) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.sub (v128.load (i32.add (local.get $xr) (i32.shl (local.get $j) (i32.const 2)))) (local.get $shift)))
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
)
