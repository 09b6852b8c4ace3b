/*
 * The stand-in's devices: see devices.h. Part of libcuda.so.1, so that the runtime, cuBLAS and cuDNN
 * stand-ins, which link it, share one table of owners and one current device per thread.
 */
#include "devices.h"
#include "mock.h"
#include <limits.h>
#include <pthread.h>

/* -1: the thread never chose a device; it then works on device 0, as with the CUDA runtime. */
static __thread int current = -1;

int mock_device_count(void) { return MOCK_DEVICES; }

int mock_current_device(void) { return current < 0 ? 0 : current; }

int mock_set_current_device(int d) {
    if (d < 0 || d >= MOCK_DEVICES) return 1;
    current = d;
    return 0;
}

/* ------------------------------------------------------------------------------------- settings */

#define MAX_SETTINGS 32
static struct { char key[32]; int value; } settings[MAX_SETTINGS];
static int nsettings;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int sam4j_stand_in_set(const char* key, int value) {
    pthread_mutex_lock(&lock);
    int i = 0, ok = 1;
    while (i < nsettings && strcmp(settings[i].key, key)) i++;
    if (value == INT_MIN) {
        if (i < nsettings) settings[i] = settings[--nsettings];  /* back to the default */
    } else if (i < nsettings) {
        settings[i].value = value;
    } else if (nsettings < MAX_SETTINGS && strlen(key) < sizeof settings[0].key) {
        strcpy(settings[nsettings].key, key);
        settings[nsettings++].value = value;
    } else {
        ok = 0;
    }
    pthread_mutex_unlock(&lock);
    return ok ? 0 : 1;
}

int mock_setting(const char* key, int fallback) {
    pthread_mutex_lock(&lock);
    int v = fallback;
    for (int i = 0; i < nsettings; i++) if (!strcmp(settings[i].key, key)) v = settings[i].value;
    pthread_mutex_unlock(&lock);
    return v;
}

int mock_compute_capability(int d) {
    char key[16];
    snprintf(key, sizeof key, "cc.%d", d);
    return mock_setting(key, 90);
}

/* --------------------------------------------------------------------------------------- owners */

/* Open addressing on the handle's address; a forgotten slot keeps its key with owner -2 (a tombstone). */
#define OWNER_SLOTS 65536
static struct { const void* h; int owner; } owners[OWNER_SLOTS];

static size_t slot_of(const void* h) { return ((uintptr_t)h >> 4) * 2654435761u % OWNER_SLOTS; }

void mock_owner_set(const void* h) {
    pthread_mutex_lock(&lock);
    size_t i = slot_of(h), free_slot = OWNER_SLOTS;
    for (size_t probe = 0; probe < OWNER_SLOTS && owners[i].h; probe++, i = (i + 1) % OWNER_SLOTS) {
        if (owners[i].h == h) { free_slot = i; break; }
        if (owners[i].owner == -2 && free_slot == OWNER_SLOTS) free_slot = i;
    }
    if (free_slot == OWNER_SLOTS && !owners[i].h) free_slot = i;
    if (free_slot < OWNER_SLOTS) { owners[free_slot].h = h; owners[free_slot].owner = mock_current_device(); }
    pthread_mutex_unlock(&lock);
}

static size_t find_owner(const void* h) {
    size_t i = slot_of(h);
    for (size_t probe = 0; probe < OWNER_SLOTS && owners[i].h; probe++, i = (i + 1) % OWNER_SLOTS)
        if (owners[i].h == h) return i;
    return OWNER_SLOTS;
}

void mock_owner_forget(const void* h) {
    pthread_mutex_lock(&lock);
    size_t i = find_owner(h);
    if (i < OWNER_SLOTS) owners[i].owner = -2;
    pthread_mutex_unlock(&lock);
}

int mock_owner(const void* h) {
    pthread_mutex_lock(&lock);
    size_t i = find_owner(h);
    int o = i < OWNER_SLOTS && owners[i].owner >= 0 ? owners[i].owner : -1;
    pthread_mutex_unlock(&lock);
    return o;
}

int mock_wrong_device(const void* h, const char* what) {
    int o = mock_owner(h), c = mock_current_device();
    if (o < 0 || o == c) return 0;
    return MOCK_FAIL("%s: the handle belongs to device %d but this thread's current device is %d (cudaSetDevice is per thread)",
                     what, o, c);
}

/* ---------------------------------------------------------------------------------------- fatbin */

/*
 * nvcc's fatbin: a 16-byte header (magic 0xba55ed50, version, header size, size of the entries), then
 * entries of a header (kind 1 = PTX, 2 = machine code; its own header size; payload size; the target
 * architecture as 10·major + minor at byte 28) and a payload. Machine code for sm_XY runs on devices of
 * compute capability X.Z with Z >= Y; PTX for compute_XY on any device of XY or newer (the driver
 * compiles it), which is the rule the driver applies when it picks an image.
 */
static unsigned header_bytes(const unsigned char* b) { return b[6] | b[7] << 8; }

unsigned long long mock_fatbin_bytes(const void* image) {
    unsigned long long size = 0;
    memcpy(&size, (const unsigned char*)image + 8, 8);
    return header_bytes(image) + size;
}

int mock_fatbin_runs(const void* image, int cc) {
    const unsigned char* b = image;
    unsigned hs = header_bytes(b);
    unsigned long long size = mock_fatbin_bytes(image) - hs;
    for (unsigned long long off = hs; off + 32 <= hs + size;) {
        const unsigned char* e = b + off;
        unsigned kind = e[0] | e[1] << 8, ehs, arch;
        unsigned long long payload;
        memcpy(&ehs, e + 4, 4);
        memcpy(&payload, e + 8, 8);
        memcpy(&arch, e + 28, 4);
        if (kind == 2 && arch / 10 == (unsigned)cc / 10 && arch % 10 <= (unsigned)cc % 10) return 0;
        if (kind == 1 && arch <= (unsigned)cc) return 0;
        if (ehs == 0) break;
        off += ehs + payload;
    }
    return 1;
}
