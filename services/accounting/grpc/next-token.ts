// The next_page_token of an offset-paged list: empty once the page reaches the end.
import { encodePageToken } from "../domain/list-query";

export function nextToken(offset: number, limit: number, total: number): string {
  return offset + limit < total ? encodePageToken(offset + limit) : "";
}
