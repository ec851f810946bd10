// Package core is the engine's deterministic state machine.
//
// It does no IO: it reads state through a small read-only StateReader, runs a
// game's Rules, and collects everything that must happen as a result in a
// Ready, in the manner of etcd's raft package. The caller (engine/runner) owns
// the loop and must handle each Ready in this order:
//
//  1. Append Ready.Audit to the audit store. Audit keys are derived from the
//     action's (partition, offset), so writing them again after a crash
//     overwrites the same rows instead of adding new ones.
//  2. Commit Ready.Writes, the outbox of Ready.Events and the consumed offsets
//     in ONE session-store batch. This batch is the commit point: after a crash
//     the engine resumes from the offsets it holds, so an action is applied
//     exactly once.
//  3. Produce Ready.Events to the events topic and wait for the broker's ack;
//     their outbox rows are deleted with the next batch (an engine restarted
//     before that produces the outbox again: events are at-least-once and
//     carry the action's seq so clients drop duplicates).
//  4. Call Advance, which forgets the pending writes Step has been reading.
//
// Time comes from the action (Action.TS, stamped by the gateway), never from
// the wall clock, and the rules' random source is seeded from the action's
// source, so replaying the same log over the same state gives identical bytes.
package core
