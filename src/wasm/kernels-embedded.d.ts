// Types of kernels-embedded.js, which scripts/build-wasm.mjs generates beside kernels.wasm.
/** kernels.wasm, base64. */
export declare const KERNELS_BASE64: string;
/** kernels-shared.wasm (imported shared memory, for threads: 2), base64. */
export declare const KERNELS_SHARED_BASE64: string;
