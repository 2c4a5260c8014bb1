declare module 'dynalite' {
  interface DynaliteServer {
    listen(port: number, host: string, callback: (error?: Error) => void): void;
    close(callback: () => void): void;
  }
  export default function dynalite(options?: Record<string, unknown>): DynaliteServer;
}
