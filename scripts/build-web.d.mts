/** Types of build-web.mjs (the page's bundler script), for the tests that build the page first. */
export declare const WEB_OUT: string;
export declare function buildWeb(outDir?: string): Promise<string[]>;
