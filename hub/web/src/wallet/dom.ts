// The small helpers the panels share: elements, status lines, byte sizes.

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

/** `138 B`, `12.5 KiB`, `1.2 GiB`. */
export function byteSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
