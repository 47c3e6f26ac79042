// Files (docs/files.md): uploads with progress and cancel (XMLHttpRequest: fetch has
// no upload progress), authenticated downloads as Blobs (a bearer token cannot ride
// on <img src>), and the small helpers the file cards use.
import type { FileInfo } from "../protocol/types";
import type { ErrorCode } from "../protocol/types";
import { ApiError } from "./errors";

/** An upload in flight. */
export interface UploadHandle {
  /** The stored file, or the server's typed error (`aborted` when cancelled). */
  done: Promise<FileInfo>;
  /** Stops the upload; `done` rejects. */
  cancel(): void;
}

/** The subset of XMLHttpRequest an upload uses (a fake in tests). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  status: number;
  responseText: string;
  upload: { onprogress: ((e: { loaded: number; total: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

/** Percent-encoded UTF-8, as `X-Filename` expects. */
export const encodeFilename = (name: string): string => encodeURIComponent(name);

/** Uploads `file` as a raw body to `POST {base}/api/files`. */
export function uploadFile(
  base: string,
  token: string,
  file: Blob,
  name: string,
  onProgress?: (sent: number, total: number) => void,
  makeXhr: () => XhrLike = () => new XMLHttpRequest() as unknown as XhrLike,
): UploadHandle {
  const xhr = makeXhr();
  const done = new Promise<FileInfo>((resolve, reject) => {
    xhr.open("POST", `${base}/api/files`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("X-Filename", encodeFilename(name));
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.total || file.size);
    xhr.onload = () => {
      let body: { code?: string; message?: string } & Partial<FileInfo> = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        /* not JSON */
      }
      if (xhr.status === 201 && body.id) resolve(body as FileInfo);
      else reject(new ApiError((body.code ?? "internal") as ErrorCode, body.message ?? `upload failed (${xhr.status})`, xhr.status));
    };
    xhr.onerror = () => reject(new ApiError("network", "network error during upload", 0));
    xhr.onabort = () => reject(new ApiError("bad_request", "aborted", 0));
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}

/** The bytes of file `id` (for previews and downloads). */
export async function downloadFile(
  base: string,
  token: string,
  id: string,
  fetchFn: (input: string, init?: RequestInit) => Promise<Response> = (i, init) => fetch(i, init),
): Promise<Blob> {
  const res = await fetchFn(`${base}/api/files/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) {
    const code: ErrorCode = res.status === 404 ? "not_found" : res.status === 401 ? "unauthorized" : "internal";
    throw new ApiError(code, res.statusText, res.status);
  }
  return res.blob();
}

/** Image types the server checks and serves inline, so they are shown as previews. */
export const isPreviewable = (mime: string): boolean => ["image/png", "image/jpeg", "image/gif", "image/webp"].includes(mime);

/** A short human size: 0 B, 999 B, 1.5 KB, 12 MB, 1.2 GB. */
export function humanSize(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const shown = i === 0 || v >= 10 ? Math.round(v).toString() : v.toFixed(1);
  return `${shown} ${units[i]}`;
}
