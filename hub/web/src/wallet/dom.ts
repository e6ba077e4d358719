// The small DOM helpers the panels share.

export function byId<T extends HTMLElement>(id: string): T | null {
  return document.getElementById(id) as T | null;
}

/** What a status line says: progress, a failure, or done. */
export type Kind = "info" | "error" | "done";

/** A function that writes a message into the status line `element` (a `role=status` paragraph). */
export function stateSetter(element: HTMLElement | null): (text: string, kind?: Kind) => void {
  return (text, kind = "info") => {
    if (!element) return;
    element.textContent = text;
    element.dataset["kind"] = kind;
  };
}
