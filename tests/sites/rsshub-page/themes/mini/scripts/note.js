/* global hexo */
'use strict';
// A theme's own block tag, as many Hexo themes ship one: {% note warn %}...{% endnote %}.
hexo.extend.tag.register('note', function (args, content) {
  const kind = args.join(' ') || 'default';
  return '<div class="note ' + kind + '">' + hexo.render.renderSync({ text: content, engine: 'markdown' }) + '</div>';
}, { ends: true });
