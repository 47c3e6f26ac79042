// The upload and download helpers of src/core/files.ts: headers, progress,
// cancel, typed errors; and the size labels the file cards show.
import { describe, expect, it } from "vitest";
import { downloadFile, humanSize, isPreviewable, uploadFile, type XhrLike } from "../src/core/files";
import { ApiError } from "../src/core/errors";

class FakeXhr implements XhrLike {
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: Blob | null = null;
  aborted = false;
  status = 0;
  responseText = "";
  upload: XhrLike["upload"] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  open(method: string, url: string) { this.method = method; this.url = url; }
  setRequestHeader(name: string, value: string) { this.headers[name] = value; }
  send(body: Blob) { this.body = body; }
  abort() { this.aborted = true; this.onabort?.(); }
  answer(status: number, body: unknown) { this.status = status; this.responseText = JSON.stringify(body); this.onload?.(); }
}

describe("uploadFile", () => {
  it("sends the raw body with its type and a percent-encoded name, reports progress, resolves with the file", async () => {
    const xhr = new FakeXhr();
    const seen: Array<[number, number]> = [];
    const file = new Blob(["hello"], { type: "text/plain" });
    const h = uploadFile("", "tok", file, "résumé 1.txt", (a, b) => seen.push([a, b]), () => xhr);
    expect([xhr.method, xhr.url]).toEqual(["POST", "/api/files"]);
    expect(xhr.headers).toEqual({ Authorization: "Bearer tok", "Content-Type": "text/plain", "X-Filename": "r%C3%A9sum%C3%A9%201.txt" });
    expect(xhr.body).toBe(file);
    xhr.upload.onprogress?.({ loaded: 2, total: 5 });
    xhr.answer(201, { id: "f1", name: "résumé 1.txt", size: 5, mime: "text/plain", sha256: "x", created_at: "t" });
    await expect(h.done).resolves.toMatchObject({ id: "f1", size: 5 });
    expect(seen).toEqual([[2, 5]]);
  });

  it("rejects with the server's code, and with `aborted` on cancel", async () => {
    const xhr = new FakeXhr();
    const h = uploadFile("", "tok", new Blob(["x"]), "x", undefined, () => xhr);
    expect(xhr.headers["Content-Type"]).toBe("application/octet-stream");
    xhr.answer(413, { code: "quota_exceeded", message: "this upload would exceed your storage quota" });
    const e = await h.done.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect([(e as ApiError).code, (e as ApiError).status]).toEqual(["quota_exceeded", 413]);

    const xhr2 = new FakeXhr();
    const h2 = uploadFile("", "tok", new Blob(["x"]), "x", undefined, () => xhr2);
    h2.cancel();
    expect(xhr2.aborted).toBe(true);
    await expect(h2.done).rejects.toThrow("aborted");
  });
});

describe("downloadFile and labels", () => {
  it("fetches with the bearer token and maps 404", async () => {
    const calls: Array<[string, RequestInit | undefined]> = [];
    const ok = async (i: string, init?: RequestInit) => { calls.push([i, init]); return new Response("bytes", { status: 200 }); };
    const blob = await downloadFile("", "tok", "a/b", ok);
    expect(await blob.text()).toBe("bytes");
    expect(calls[0]![0]).toBe("/api/files/a%2Fb");
    expect((calls[0]![1]!.headers as Record<string, string>).Authorization).toBe("Bearer tok");
    const missing = async () => new Response("{}", { status: 404 });
    await expect(downloadFile("", "tok", "x", missing)).rejects.toMatchObject({ code: "not_found" });
  });

  it("sizes and previews", () => {
    expect([humanSize(0), humanSize(999), humanSize(1500), humanSize(12_300_000), humanSize(1_234_000_000)]).toEqual(["0 B", "999 B", "1.5 KB", "12 MB", "1.2 GB"]);
    expect([isPreviewable("image/png"), isPreviewable("image/svg+xml"), isPreviewable("application/pdf")]).toEqual([true, false, false]);
  });
});
