// The control room (placeholder until the pages land): proves the build and the serving path.
import { h, render } from 'preact';
import htm from 'htm';

const html = htm.bind(h);
render(html`<main><h1>souk control room</h1></main>`, document.getElementById('app'));
