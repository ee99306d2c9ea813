import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demuxLogs } from './log-frames.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('demuxLogs', () => {
  it('joins stdout and stderr frames in order, without their headers', () => {
    assert.equal(demuxLogs(Buffer.concat([frame(1, 'ready\n'), frame(2, '[ERROR] disk\n'), frame(1, 'bye\n')])), 'ready\n[ERROR] disk\nbye\n');
  });
  it('returns a stream that is not framed (a TTY container) as text', () => {
    assert.equal(demuxLogs(Buffer.from('plain log line\n')), 'plain log line\n');
  });
});
