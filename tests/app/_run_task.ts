/**
 * Runs a task of `runTasks` as `sequent.ts` would, recording what it
 * writes and the questions it asks.
 */
import type { AppConfig } from "@sequent/core";
import { runTasks } from "@sequent/core/tasks";

/** What a task wrote and asked, and its exit code. */
export interface TaskRun {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
  readonly questions: string[];
}

/**
 * Runs `args` with `cfg`; questions are answered from `answers` in turn
 * (then "no"); `signal` stops a long-running task.
 */
export async function run(
  cfg: AppConfig,
  args: string[],
  answers: boolean[] = [],
  signal?: AbortSignal,
): Promise<TaskRun> {
  const out: string[] = [];
  const err: string[] = [];
  const questions: string[] = [];
  const code = await runTasks(cfg, args, {
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
    confirm: (question) => {
      questions.push(question);
      return Promise.resolve(answers.shift() ?? false);
    },
    signal,
  });
  return { code, out, err, questions };
}
