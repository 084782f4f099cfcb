// Uploads with byte progress and cancel (XMLHttpRequest: fetch has no upload progress).

import { errorFromBody, networkError, ApiError } from "../api/errors";
import type { ApiClient } from "../api/client";

export interface UploadHandle<T> {
  promise: Promise<T>;
  cancel: () => void;
}

export type Progress = (loaded: number, total: number) => void;

/** POST a multipart form to `path`; on a 401 the session is refreshed once and the upload retried. */
export function upload<T>(client: ApiClient, path: string, form: FormData, onProgress: Progress): UploadHandle<T> {
  let xhr: XMLHttpRequest | null = null;
  let canceled = false;
  const attempt = (retry: boolean): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const request = new XMLHttpRequest();
      xhr = request;
      request.open("POST", path);
      const headers = client.authHeaders();
      for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
      request.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
      request.onerror = () => reject(networkError());
      request.onabort = () => reject(new ApiError("Upload canceled.", 0, "CANCELED"));
      request.onload = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(request.responseText);
        } catch {
          body = null;
        }
        if (request.status >= 200 && request.status < 300) resolve(body as T);
        else if (request.status === 401 && retry && !canceled) {
          client.refresh().then((ok) => (ok ? attempt(false).then(resolve, reject) : reject(errorFromBody(401, body))));
        } else reject(errorFromBody(request.status, body));
      };
      request.send(form);
    });
  return {
    promise: attempt(true),
    cancel: () => {
      canceled = true;
      (xhr as XMLHttpRequest | null)?.abort();
    },
  };
}
