/*
 * The stand-in's devices (devices.c, part of libcuda.so.1): how many there are, each one's compute
 * capability, the current device of each thread (cudaSetDevice is per thread, as on a GPU), which device
 * each stream, event, graph and library handle was created on, and the test settings.
 *
 * What a GPU refuses, the stand-in refuses too: a kernel launched, a graph launched or a capture begun on
 * a stream of another device than the calling thread's current one, an event recorded on a stream of
 * another device, and a cuBLAS or cuDNN call through a handle made on another device. Copies are allowed
 * across devices, as on a GPU with unified addressing. Every check is made at the call, on the calling
 * thread: the stream's worker thread that runs the work later (device.c) has no current device of the
 * caller's, so a check there would mean nothing.
 *
 * Settings (sam4j_stand_in_set, called by the tests through java.lang.foreign; see StandIn.java): "cc.N" is
 * device N's compute capability as 10·major + minor (default 90); "cudnn.version" what cudnnGetVersion
 * reports (default 90000); "cudnn.create" the status cudnnCreate returns (default 0, success);
 * "cudnn.fastest" the convolution algorithm Find ranks first (default 1) and "cudnn.noise" whether the
 * non-deterministic algorithm 1 adds in an order that changes with every call, as atomics do on a GPU.
 */
#pragma once
#include <stddef.h>

#define MOCK_DEVICES 2

int mock_device_count(void);
/* The calling thread's current device (0 until it sets one, as the CUDA runtime's default). */
int mock_current_device(void);
/* 0, or non-zero if d is not a device. */
int mock_set_current_device(int d);
/* Device d's compute capability as 10·major + minor. */
int mock_compute_capability(int d);
/* Records the calling thread's current device as the device that owns handle h. */
void mock_owner_set(const void* h);
void mock_owner_forget(const void* h);
/* The device that owns h, or -1 when h was never recorded. */
int mock_owner(const void* h);
/* 0 if h belongs to the calling thread's current device (or is unknown); else says so and returns 1. */
int mock_wrong_device(const void* h, const char* what);
/* A test setting, or fallback when it was never set. */
int mock_setting(const char* key, int fallback);
/* 0 if the fatbin image holds code that runs on a device of compute capability cc (see devices.c). */
int mock_fatbin_runs(const void* image, int cc);
/* The fatbin image's size in bytes, its header included, as its header gives it. */
unsigned long long mock_fatbin_bytes(const void* image);
/* Exported for the tests: sets a setting (INT_MIN: back to its default); returns 0, or 1 when the table is full. */
int sam4j_stand_in_set(const char* key, int value);
