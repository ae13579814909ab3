/* Stand-in for CUDA's cuda_runtime_api.h, written for this project.
 *
 * TensorRT's headers include <cuda_runtime_api.h> only for the opaque stream and event
 * handle types in its method signatures. The shim passes those handles through as
 * pointers and never calls CUDA itself, so declaring the two types is enough and the
 * build needs no CUDA toolkit. The declarations match CUDA's own (pointers to the
 * driver's CUstream_st / CUevent_st), so code that does see the real header agrees. */

#ifndef GFS_TRT_CUDA_RUNTIME_API_STUB_H
#define GFS_TRT_CUDA_RUNTIME_API_STUB_H

typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;

#endif
