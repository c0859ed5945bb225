// The web app's entry: a placeholder until the pages land.
import { render } from 'preact';
import './app.css';

function App() {
  return <main><h1>Leadloop</h1></main>;
}

render(<App />, document.getElementById('app'));
