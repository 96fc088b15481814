import type { Writable } from "node:stream";

/**
 * Resolves on the writable's next `event`. Rejects with its error when it
 * fails first, and with `closedError()` when it closes first.
 */
export function nextWritableEvent(
  stream: Writable,
  event: "drain" | "finish",
  closedError: () => Error,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off(event, onEvent);
      stream.off("error", onError);
      stream.off("close", onClose);
    };
    const onEvent = () => (cleanup(), resolve());
    const onError = (error: Error) => (cleanup(), reject(error));
    const onClose = () => (cleanup(), reject(closedError()));
    stream.on(event, onEvent);
    stream.on("error", onError);
    stream.on("close", onClose);
  });
}
