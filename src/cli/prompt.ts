import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/**
 * Asks for a secret on the terminal without echoing it (the question goes to stderr, so stdout
 * stays the command's result). Undefined when stdin is not a terminal: nobody can answer.
 */
export function secretPrompt(question: string): (() => Promise<string>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return () =>
    new Promise<string>((resolve) => {
      let asked = false;
      const muted = new Writable({
        write(chunk: Buffer, _encoding, done) {
          // Only the question is shown; what is typed is not.
          if (!asked) process.stderr.write(chunk);
          done();
        },
      });
      const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
      rl.question(question, (answer) => {
        rl.close();
        process.stderr.write('\n');
        resolve(answer);
      });
      asked = true;
    });
}
