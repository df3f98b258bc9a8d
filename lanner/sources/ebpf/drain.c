/* Copy ready BPF ring-buffer records into a flat batch buffer (one call per poll, no per-record
 * callback into Python). Records are laid end to end; each one starts with its event header, whose
 * u32 at offset 16 is its length. Returns the number of bytes written; *nrec gets the record count. */
#include <stdint.h>
#include <string.h>

#define BUSY_BIT (1U << 31)
#define DISCARD_BIT (1U << 30)
#define HDR_SZ 8

size_t lanner_drain(uint64_t *consumer, const uint64_t *producer, const uint8_t *data, uint64_t mask,
		    uint8_t *out, size_t cap, uint64_t *nrec)
{
	uint64_t cons = __atomic_load_n(consumer, __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
	size_t o = 0;
	uint64_t n = 0;
	while (cons < prod) {
		uint32_t hdr = __atomic_load_n((const uint32_t *)(data + (cons & mask)), __ATOMIC_ACQUIRE);
		if (hdr & BUSY_BIT)
			break;
		uint32_t len = hdr & ~(BUSY_BIT | DISCARD_BIT);
		if (!(hdr & DISCARD_BIT)) {
			if (o + len > cap)
				break;
			/* the data area is mapped twice back to back: a record never wraps */
			memcpy(out + o, data + ((cons + HDR_SZ) & mask), len);
			o += len;
			n++;
		}
		cons += (len + HDR_SZ + 7) & ~7ULL;
		__atomic_store_n(consumer, cons, __ATOMIC_RELEASE);
	}
	*nrec = n;
	return o;
}
