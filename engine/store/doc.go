// Package store keeps the engine's two RocksDB stores, each its own RocksDB
// instance in its own directory:
//
//   - Sessions: live player sessions, hunt state and consumed offsets. Rows
//     expire when the caller says (30 minutes after last activity).
//   - Audit: the append-only record of accepted and rejected actions and
//     discoveries, kept 90 days after each row's time.
//
// # Values and expiry
//
// Every stored value is an 8-byte big-endian expiry in unix milliseconds
// (0 = never expires) followed by the payload. A row is dead from its expiry
// instant on, judged by the store's Clock. Dead rows stay on disk until a
// compaction passes them through the TTL filter, so every read checks expiry
// itself. The filter only removes rows; values it cannot parse are kept.
//
// # Audit key layout
//
// Each row is written twice, under one key per index, both holding the whole
// row so a query needs no second lookup:
//
//	a/h/<hunt> 0x00 <ts:8> <partition:4> <offset:8> <index:2>               by hunt and time
//	a/p/<hunt> 0x00 <player> 0x00 <ts:8> <partition:4> <offset:8> <index:2>  by hunt, player and time
//
// Numbers are big-endian and non-negative, so byte order is time order and a
// query for one hunt or one player between two times is one range scan. The
// 0x00 after each id stops one id's scan from running into an id that
// extends it ("h1" and "h10"), which is why ids may not contain 0x00. Rows
// without a player are only in the hunt index. ts, partition, offset and
// index come from the action that produced the row, so the keys are
// deterministic: appending the same rows after a crash overwrites them.
// Watermarks (SetWatermark) live under "m/wm/<name>", outside both
// indexes, and never expire.
//
// The audit payload after the expiry is
//
//	version:1 (=1) ts:8 partition:4 offset:8 index:2
//	len:uvarint hunt len:uvarint player len:uvarint kind data...
//
// # Compaction
//
// Both stores run the same TTL compaction filter. With a filter set, RocksDB
// 7.8 rewrites each file through it only every periodic_compaction_seconds
// (30 days by default), and only when something makes it pick compactions (a
// flush or another compaction), so a quiet store would keep expired rows for
// ever. The stores set periodic_compaction_seconds (1 hour for Sessions, 1 day
// for Audit) and offer CompactExpired, a full compaction, and StartCompactor,
// which calls it periodically when a row may have expired since the last one
// (known from the writes and from what the filter kept).
//
// # Opening, restarting, failing
//
// OpenStores opens the engine's pair in parallel and refuses when only one of
// the two directories exists (an unmounted audit disk must not turn into a
// fresh, empty store). Every open refuses a directory that holds files but no
// CURRENT file, which RocksDB would otherwise re-create empty, deleting the
// SST files it does not know. Errors match ErrLocked, ErrCorrupt, ErrMissing
// or ErrDiskFull and name the path.
//
// Close flushes the memtables, so the next open replays no write-ahead log;
// after a crash the log is replayed, at most a few memtables of 4 MiB
// (WriteBufferBytes).
//
// Debian's librocksdb aborts the process when a write meets a full disk (see
// space.go), so every open, write batch and full compaction first checks that
// the store's file system keeps MinFreeBytes free and otherwise returns an
// ErrDiskFull error without writing.
//
// ReadOnly opens take no lock and never create or write: tools (veltrix
// audit, veltrix stores stats) read a store while an engine runs on it.
//
// # Lifetime
//
// All methods are safe for concurrent use. Close waits for calls in flight,
// stops the compactor, aborts a running full compaction and frees the RocksDB
// objects; afterwards every method returns an error matching ErrClosed. Close
// must not be called from a Scan or Query callback.
package store
