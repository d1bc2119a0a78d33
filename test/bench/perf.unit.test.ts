import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePerfScript, perfCategory, perfLeaf, type Sample } from '../../bench/perf.ts';

const PID = 4242;
const ROOT = new URL('../../', import.meta.url).pathname;

/** `perf script -F comm,tid,ip,sym` text: one block per sample, innermost frame first. */
function script(...blocks: [comm: string, tid: number, frames: string[]][]): string {
  return blocks
    .map(([comm, tid, frames]) => `${comm} ${tid} \n${frames.map((f, i) => `\t    ${(0xff00 + i).toString(16)} ${f}`).join('\n')}\n`)
    .join('\n');
}

const worker = (...frames: string[]): Sample => ({ thread: 'worker', frames });
const main = (...frames: string[]): Sample => ({ thread: 'main', frames });

describe('perf samples (bench/perf.ts)', () => {
  it("reads each sample's thread and frames, whatever the thread's name", () => {
    const samples = parsePerfScript(
      script(
        ['MainThread', PID, ['uv__io_poll', 'uv_run']],
        ['WorkerThread', PID + 3, ['JS:*foo /x.js:1:2']],
        ['V8 DefaultWorke', PID + 7, ['v8::internal::Scavenger::Process']],
        ['node', PID, ['main']],
      ),
      PID,
    );
    assert.deepEqual(samples, [
      { thread: 'main', frames: ['uv__io_poll', 'uv_run'] },
      { thread: 'worker', frames: ['JS:*foo /x.js:1:2'] },
      { thread: 'helper', frames: ['v8::internal::Scavenger::Process'] },
      { thread: 'main', frames: ['main'] },
    ]);
  });

  it('gives a syscall to the library whose code made it', () => {
    const write = worker(
      'tcp_sendmsg',
      '__x64_sys_writev',
      'uv__write',
      'node::StreamBase::Writev',
      `JS:+'handleWriteReq node:internal/stream_base_commons:46:24`,
      `JS:+'send ${ROOT}node_modules/kafkajs/src/network/connection.js:379:13`,
      `JS:+'#drain file://${ROOT}src/issuance/producer.ts:283:15`,
    );
    assert.equal(perfCategory(write), 'Kafka (encode, send)');
  });

  it('counts an HTTP answer written on a message from a shard worker as HTTP, not as the thread hop', () => {
    const answer = main(
      'tcp_sendmsg',
      'uv__write',
      `JS:+'_writeGeneric node:net:1231:42`,
      `JS:*'resOnFinish node:_http_server:1096:21`,
      `JS:+'processTicksAndRejections node:internal/process/task_queues:72:35`,
      'node::InternalCallbackScope::Close',
      'node::worker::MessagePort::OnMessage',
      'uv__async_io',
    );
    assert.equal(perfCategory(answer), 'sockets & HTTP (Node)');
  });

  it('counts posting to a worker as the thread hop', () => {
    const post = main(
      'v8::internal::ValueSerializer::WriteObject',
      'node::worker::MessagePort::PostMessage',
      `JS:+'postTask ${ROOT}node_modules/piscina/dist/worker_pool/index.js:116:13`,
    );
    assert.equal(perfCategory(post), 'thread hop (Piscina)');
  });

  it("tells V8's helper threads' compiling from their collecting", () => {
    const compile: Sample = {
      thread: 'helper',
      frames: ['v8::internal::compiler::GraphReducer::ReduceTop', 'v8::platform::DefaultJobWorker::Run'],
    };
    const collect: Sample = {
      thread: 'helper',
      frames: ['v8::internal::Scavenger::ScavengeObject', 'v8::platform::DefaultJobWorker::Run'],
    };
    assert.equal(perfCategory(compile), 'JIT compiler (V8 threads)');
    assert.equal(perfCategory(collect), 'GC');
  });

  it('counts a collection that an allocation started as GC, whoever allocated', () => {
    const gc = worker(
      'v8::internal::Heap::CollectGarbage',
      'Builtins_AllocateInYoungGeneration',
      `JS:*'writeUVarInt ${ROOT}node_modules/kafkajs/src/protocol/encoder.js:366:15`,
    );
    assert.equal(perfCategory(gc), 'GC');
  });

  it('names a sample by its innermost frame and the JavaScript that led to it, without the checkout path', () => {
    const sample = worker('memcpy', `JS:*'writeUVarInt ${ROOT}node_modules/kafkajs/src/protocol/encoder.js:366:15`);
    assert.equal(perfLeaf(sample), 'memcpy ← writeUVarInt node_modules/kafkajs/src/protocol/encoder.js:366:15');
  });
});
