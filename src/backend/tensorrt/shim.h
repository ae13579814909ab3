/* The C interface between the Rust TensorRT backend and TensorRT's C++ API.
 *
 * TensorRT only has a C++ API, and its classes change layout between major versions,
 * so Rust cannot call it directly. This shim is compiled against whichever TensorRT
 * headers build.rs finds and exposes plain C functions over opaque handles.
 *
 * The shim never links libnvinfer: the Rust side dlopens it (so a plugin built with the
 * feature still loads on machines without TensorRT) and passes the factory functions
 * it found with dlsym. CUDA objects cross the boundary as void pointers, so neither side
 * needs the CUDA headers.
 *
 * Conventions: functions returning int32_t give 0 on success and -1 on failure, with a
 * NUL-terminated message (including what TensorRT's logger reported) in `err`, which the
 * caller provides with room for `err_len` bytes. Dimensions are int64 arrays of at most
 * GFS_TRT_MAX_DIMS entries whatever the width TensorRT's own Dims uses (32-bit before
 * TensorRT 10, 64-bit since). -1 marks a dynamic dimension. */

#ifndef GFS_TRT_SHIM_H
#define GFS_TRT_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GFS_TRT_MAX_DIMS 8

/* Factory functions exported by libnvinfer / libnvonnxparser (their *_INTERNAL names). */
typedef void *(*gfs_trt_create_fn)(void *logger, int32_t version);
typedef void *(*gfs_trt_create_parser_fn)(void *network, void *logger, int32_t version);

typedef struct GfsTrtRuntime GfsTrtRuntime;
typedef struct GfsTrtEngine GfsTrtEngine;
typedef struct GfsTrtNetwork GfsTrtNetwork;

/* The TensorRT version of the headers this shim was compiled against. */
void gfs_trt_header_version(int32_t *major, int32_t *minor, int32_t *patch);
/* 1 when the headers had NvOnnxParser.h, so engines can be built from ONNX. */
int32_t gfs_trt_has_onnx_parser(void);
/* 1 when these headers still have the fp16 builder flag (TensorRT < 11). */
int32_t gfs_trt_has_fp16_flag(void);
/* 1 when these headers still have implicit int8 (the int8 builder flag and per-tensor
 * dynamic ranges, TensorRT < 11); from 11 on int8 comes from a QDQ model's own types. */
int32_t gfs_trt_has_int8_flag(void);

/* ---- running ---- */

/* An IRuntime. dla_core < 0: GPU only. */
GfsTrtRuntime *gfs_trt_runtime_new(gfs_trt_create_fn create_runtime, int32_t dla_core, char *err, size_t err_len);
void gfs_trt_runtime_free(GfsTrtRuntime *runtime);

/* Deserializes an engine and creates its execution context. The runtime must outlive it. */
GfsTrtEngine *gfs_trt_engine_new(GfsTrtRuntime *runtime, const void *blob, size_t len, char *err, size_t err_len);
void gfs_trt_engine_free(GfsTrtEngine *engine);

int32_t gfs_trt_engine_nb_io(const GfsTrtEngine *engine);
/* Name of IO tensor `index`, owned by the engine; NULL when out of range. */
const char *gfs_trt_engine_io_name(const GfsTrtEngine *engine, int32_t index);
/* is_input: 1 input, 0 output. dtype: TensorRT's DataType value (0 = float32). dims: the
 * engine's shape, -1 where it is dynamic. */
int32_t gfs_trt_engine_io_info(const GfsTrtEngine *engine, const char *name, int32_t *is_input, int32_t *dtype,
                               int64_t *dims, int32_t *nb_dims, char *err, size_t err_len);
/* Shape of profile 0 for an input: which = 0 min, 1 opt, 2 max. nb_dims = 0 when the input
 * has no profile (all its dimensions are fixed). */
int32_t gfs_trt_engine_profile(const GfsTrtEngine *engine, const char *name, int32_t which, int64_t *dims,
                               int32_t *nb_dims, char *err, size_t err_len);

int32_t gfs_trt_context_set_input_shape(GfsTrtEngine *engine, const char *name, const int64_t *dims, int32_t nb_dims,
                                        char *err, size_t err_len);
/* The context's shape of a tensor: for outputs, known once every input shape is set. */
int32_t gfs_trt_context_tensor_shape(const GfsTrtEngine *engine, const char *name, int64_t *dims, int32_t *nb_dims,
                                     char *err, size_t err_len);
int32_t gfs_trt_context_set_address(GfsTrtEngine *engine, const char *name, void *device_ptr, char *err,
                                    size_t err_len);
/* Queues the inference on `stream` (a cudaStream_t / CUstream); returns before it ran. */
int32_t gfs_trt_context_enqueue(GfsTrtEngine *engine, void *stream, char *err, size_t err_len);

/* ---- building engines from ONNX ---- */

/* Parses the ONNX file into a network definition, ready for gfs_trt_network_build. */
GfsTrtNetwork *gfs_trt_network_from_onnx(gfs_trt_create_fn create_builder, gfs_trt_create_parser_fn create_parser,
                                         const char *onnx_path, char *err, size_t err_len);
void gfs_trt_network_free(GfsTrtNetwork *network);

int32_t gfs_trt_network_nb_inputs(const GfsTrtNetwork *network);
/* Name and declared shape (-1 = dynamic) of network input `index`; the name is owned by
 * the network. */
int32_t gfs_trt_network_input(const GfsTrtNetwork *network, int32_t index, const char **name, int64_t *dims,
                              int32_t *nb_dims, char *err, size_t err_len);

typedef struct GfsTrtBuildOptions {
    int32_t fp16;     /* allow fp16 kernels (where the GPU has fast fp16) */
    int32_t dla_core; /* < 0: GPU only; else that DLA core, with GPU fallback */
    size_t workspace; /* workspace memory limit in bytes, 0 = TensorRT's default */
    int32_t int8;     /* allow int8 kernels, with the dynamic ranges below (TensorRT < 11) */
    /* int8: the largest absolute value of each named tensor (a calibration cache's
     * scale x 127); tensors without one stay in fp16/fp32. */
    int32_t nb_ranges;
    const char *const *range_names;
    const float *range_amax;
} GfsTrtBuildOptions;

/* One optimisation profile entry: min/opt/max shapes for one input, nb_dims each. */
typedef struct GfsTrtProfileEntry {
    const char *name;
    int32_t nb_dims;
    int64_t min[GFS_TRT_MAX_DIMS];
    int64_t opt[GFS_TRT_MAX_DIMS];
    int64_t max[GFS_TRT_MAX_DIMS];
} GfsTrtProfileEntry;

/* Builds and serializes an engine: *data holds *len bytes and lives until *blob is freed
 * with gfs_trt_blob_free. fp16_used tells whether fp16 kernels were actually allowed;
 * ranges_set how many of the int8 dynamic ranges named a tensor of the network. */
int32_t gfs_trt_network_build(GfsTrtNetwork *network, const GfsTrtBuildOptions *options,
                              const GfsTrtProfileEntry *profile, int32_t nb_profile, void **blob, const void **data,
                              size_t *len, int32_t *fp16_used, int32_t *ranges_set, char *err, size_t err_len);
void gfs_trt_blob_free(void *blob);

#ifdef __cplusplus
}
#endif

#endif
