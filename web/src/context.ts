// App-wide services handed to pages: the API client, the event stream, uploads and notices.

import { createContext, useContext } from "react";
import type { ApiClient } from "./api/client";
import type { EventStream } from "./lib/events";
import type { UploadsApi } from "./components/Uploads";

export interface Notice {
  id: number;
  kind: "info" | "error";
  text: string;
}

export interface AppServices {
  api: ApiClient;
  events: EventStream;
  uploads: UploadsApi;
  notify: (text: string, kind?: Notice["kind"]) => void;
}

export const AppContext = createContext<AppServices | null>(null);

export function useApp(): AppServices {
  const services = useContext(AppContext);
  if (!services) throw new Error("AppContext missing");
  return services;
}
